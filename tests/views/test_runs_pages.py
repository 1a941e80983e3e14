"""The runs pages (eventtree/views/builder/runs.py): the list and its filters, a run's page, and
cancel, retry and replay from it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from eventtree.models import Block, BlockState, Record, Run, RunStatus, Step
from eventtree.services.records import record_submit
from eventtree.services.runs import block_cancel
from tests.factories import action, form_create, set_field, tree_create, tree_publish_unchecked
from tests.views.staff import staff_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    def submit(form, **values):
        with django_capture_on_commit_callbacks(execute=True):
            return record_submit(form=form, values=values)

    return submit


@pytest.fixture
def outcome():
    """A Background that fails at its only attempt when the record's `outcome` is `fail`."""
    form = form_create("outcome", name="Outcome", fields=[{"name": "outcome"}, {"name": "result", "internal": True}])
    tree = tree_create(form, [{"kind": "background", "label": "Work", "children": [
        set_field("result", "ran"),
        {"kind": "condition", "field": "outcome", "op": "eq", "value": "fail",
         "children": [action("fail", message="Refused for {{ record.outcome }}")]},
    ]}], max_attempts=1, name="Checks")
    return form, tree


def run_rows(html: str) -> list[int]:
    """The run ids of the list's rows, in order."""
    return [int(found) for found in re.findall(r'<tr data-run="(\d+)">', html)]


def row_of(html: str, run_id: int) -> str:
    return re.search(rf'<tr data-run="{run_id}">(.*?)</tr>', html, re.S).group(1)


# The list ---------------------------------------------------------------------------------------

def test_the_list_shows_each_run_newest_first_with_what_staff_need(staff, outcome, submit, drain_blocks):
    form, tree = outcome
    first, _ = submit(form, outcome="ok")
    second, _ = submit(form, outcome="fail")
    drain_blocks()
    done, failed = Run.objects.order_by("id")

    response = staff.get("/builder/runs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert run_rows(html) == [failed.pk, done.pk]
    row = row_of(html, failed.pk)
    assert f'href="/builder/runs/{failed.pk}/"' in row and f'href="/builder/records/{second.pk}/"' in row
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells[:6] == [f"#{failed.pk}", "Outcome", "Checks", "1", f"record #{second.pk}", "failed"]
    assert cells[6] == timezone.localtime(failed.created_at).strftime("%Y-%m-%d %H:%M:%S")
    assert cells[7] == timezone.localtime(failed.finished_at).strftime("%Y-%m-%d %H:%M:%S")
    assert cells[8] == "1"  # failed blocks
    assert re.sub(r"<[^>]+>", "", row_of(html, done.pk)).split()[-1] == "0"
    assert 'hx-trigger="every' not in html  # nothing unfinished: no refresh


def test_each_filter_narrows_the_list(staff, outcome, submit, drain_blocks, django_capture_on_commit_callbacks):
    form, tree = outcome
    other_form = form_create("other", name="Other")
    other_tree = tree_create(other_form, [{"kind": "background", "children": [action("log", message="x")]}])
    submit(form, outcome="ok")
    submit(form, outcome="fail")
    drain_blocks()
    done, failed = Run.objects.order_by("id")
    with django_capture_on_commit_callbacks(execute=True):
        tree_publish_unchecked(tree)  # version 2: the next submits run it
    submit(form, outcome="ok")  # running: its block waits for a worker
    running = Run.objects.latest("id")
    submit(form, outcome="ok")
    cancelled = Run.objects.latest("id")
    block_cancel(block_id=cancelled.blocks.get().pk)
    submit(other_form)
    other = Run.objects.latest("id")
    Run.objects.filter(pk=done.pk).update(created_at=timezone.now() - timedelta(days=3))

    def ids(query: str) -> set[int]:
        response = staff.get(f"/builder/runs/?{query}")
        assert response.status_code == 200, query
        return set(run_rows(response.content.decode()))

    everything = {done.pk, failed.pk, running.pk, cancelled.pk, other.pk}
    assert ids("") == everything
    assert ids("form=other") == {other.pk}
    assert ids(f"tree={tree.pk}") == everything - {other.pk}
    assert ids(f"tree={other_tree.pk}") == {other.pk}
    assert ids(f"tree={tree.pk}&version=2") == {running.pk, cancelled.pk}
    assert ids(f"tree={tree.pk}&version=1") == {done.pk, failed.pk}
    assert ids("state=running") == {running.pk, other.pk}
    assert ids("state=failed") == {failed.pk}
    # A run whose every block staff cancelled is "cancelled", not "done".
    assert ids("state=cancelled") == {cancelled.pk}
    assert ids("state=done") == {done.pk}
    today = timezone.localdate()
    assert ids(f"date_from={today}") == everything - {done.pk}
    assert ids(f"date_to={today - timedelta(days=1)}") == {done.pk}
    assert ids(f"date_from={today - timedelta(days=3)}&date_to={today - timedelta(days=3)}") == {done.pk}
    assert ids(f"form=outcome&state=running&date_from={today}") == {running.pk}
    page = staff.get(f"/builder/runs/?state=cancelled").content.decode()
    assert '<option value="cancelled" selected>' in page  # the form shows the filter it applied
    assert f'<span class="badge badge-cancelled">cancelled</span>' in row_of(page, cancelled.pk)


@pytest.mark.parametrize(("query", "error"), [
    ("tree=999999", "Select a valid choice"),
    ("form=no-such-form", "Select a valid choice"),
    ("version=0", "greater than or equal to 1"),
    ("state=lost", "Select a valid choice"),
    ("date_from=yesterday", "Enter a valid date"),
    ("date_from=2026-05-02&date_to=2026-05-01", "The last day comes before the first."),
    ("date_to=9999-12-31", "Enter a day between"),
])
def test_a_bad_filter_is_refused_with_a_clear_error(staff, outcome, submit, query, error):
    submit(outcome[0], outcome="ok")
    response = staff.get(f"/builder/runs/?{query}")
    html = response.content.decode()
    assert response.status_code == 400
    assert error in html and "Fix the filters above" in html
    assert run_rows(html) == []


def test_the_list_is_paginated_by_50_and_the_pages_keep_the_filters(staff, outcome, submit):
    form, tree = outcome
    record, _ = submit(form, outcome="ok")
    run = Run.objects.get()
    Run.objects.bulk_create([Run(tree=tree, version=run.version, record=record, event=run.event,
                                 status=RunStatus.DONE, finished_at=timezone.now()) for _ in range(54)])
    newest_first = list(Run.objects.order_by("-created_at", "-id").values_list("pk", flat=True))

    first = staff.get(f"/builder/runs/?tree={tree.pk}").content.decode()
    assert run_rows(first) == newest_first[:50]
    assert "55 runs" in first and "Page 1 of 2" in first
    assert f'href="?tree={tree.pk}&amp;page=2"' in first
    second = staff.get(f"/builder/runs/?tree={tree.pk}&page=2").content.decode()
    assert run_rows(second) == newest_first[50:]
    assert f'href="?tree={tree.pk}&amp;page=1"' in second
    assert run_rows(staff.get("/builder/runs/?page=lots").content.decode()) == newest_first[:50]


def test_the_list_refreshes_itself_while_a_run_in_view_is_unfinished(staff, outcome, submit, drain_blocks,
                                                                    django_assert_max_num_queries):
    form, _ = outcome
    submit(form, outcome="ok")
    page = staff.get("/builder/runs/?state=running").content.decode()
    assert 'hx-get="/builder/runs/?state=running" hx-trigger="every 5s"' in page

    poll = staff.get("/builder/runs/?state=running", **HTMX)
    assert poll.status_code == 200 and "HX-Request" in poll["Vary"]
    assert poll.content.decode().lstrip().startswith('<section id="runs"')  # the results alone
    assert 'hx-trigger="every 5s"' in poll.content.decode()

    drain_blocks()
    with django_assert_max_num_queries(6):  # session, user, permissions, the page's runs, their count
        last = staff.get("/builder/runs/", **HTMX)
    assert last.status_code == 286  # nothing unfinished: htmx stops polling
    assert "hx-trigger" not in last.content.decode() and 'badge-done">done' in last.content.decode()


# A run's page -----------------------------------------------------------------------------------

def test_a_failed_run_page_shows_its_record_version_blocks_steps_and_full_error(staff, outcome, submit, drain_blocks):
    form, tree = outcome
    record, _ = submit(form, outcome="fail")
    drain_blocks()
    run = Run.objects.get()
    block = run.blocks.get()

    response = staff.get(f"/builder/runs/{run.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="/builder/records/{record.pk}/"' in html
    assert f'href="/builder/trees/{tree.pk}/versions/1/">version 1</a>' in html
    assert 'data-state="failed"' in html and "Attempts 1 / 1" in html
    assert "Refused for fail" in html  # the block's last error and its failed step
    assert f'action="/builder/blocks/{block.pk}/retry/"' in html
    assert f'name="next" value="/builder/runs/{run.pk}/"' in html
    assert ">Replay this run</button>" in html
    steps = re.findall(r'<tr class="step step-(\w+)">\s*<td>(.*?)</td>', html)
    assert steps == [("deferred", "Work"),  # the request's step, then the block's attempt
                     ("ok", "Set field"), ("ok", "If outcome eq fail"), ("failed", "Fail")]
    assert 'hx-trigger="every' not in html  # finished: no refresh


def test_the_run_page_refreshes_itself_until_the_run_is_finished(staff, outcome, submit, drain_blocks):
    form, _ = outcome
    submit(form, outcome="ok")
    run = Run.objects.get()
    page = staff.get(f"/builder/runs/{run.pk}/").content.decode()
    assert f'hx-get="/builder/runs/{run.pk}/" hx-trigger="every 3s"' in page
    assert '<meta http-equiv="refresh"' in page  # without JavaScript too
    assert ">Cancel</button>" in page and "Replay this run" not in page

    poll = staff.get(f"/builder/runs/{run.pk}/", **HTMX)
    assert poll.status_code == 200 and poll.content.decode().lstrip().startswith('<div id="run-live"')

    drain_blocks()
    last = staff.get(f"/builder/runs/{run.pk}/", **HTMX)
    assert last.status_code == 286
    assert 'data-state="done"' in last.content.decode() and "hx-trigger" not in last.content.decode()


def test_an_error_with_markup_is_shown_as_text(staff, submit, drain_blocks):
    payload = "<script>alert(1)</script>"
    form = form_create("hostile", fields=[{"name": "name"}])
    tree_create(form, [{"kind": "background", "label": f"Block {payload}", "children": [
        action("log", message="said " + "{{ record.name }}"),
        action("fail", message="failed on {{ record.name }}"),
    ]}], max_attempts=1, name=f"Tree {payload}")
    submit(form, name=payload)
    drain_blocks()
    run = Run.objects.get()

    response = staff.get(f"/builder/runs/{run.pk}/")
    html = response.content.decode()
    listing = staff.get("/builder/runs/").content.decode()

    assert response.status_code == 200
    assert "<script>alert" not in html and "<script>alert" not in listing
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"failed on {escaped}" in html  # the step's error and the block's last error
    assert f"said {escaped}" in html  # a step's output
    assert f"Block {escaped}" in html and f"Tree {escaped}" in html and f"Tree {escaped}" in listing
    assert "&amp;lt;" not in html


def steps_run(form, *, blocks: int, actions: int, submit, drain_blocks) -> Run:
    """A run of `blocks` Background blocks of `actions` log actions each, every block done."""
    tree_create(form, [{"kind": "background", "label": f"Block {index}",
                        "children": [action("log", message=f"step {n}") for n in range(actions)]}
                       for index in range(blocks)])
    submit(form, name="x")
    drain_blocks()
    run = Run.objects.get(tree__form=form)
    assert run.status == RunStatus.DONE
    return run


def test_the_run_page_reads_as_many_rows_for_50_steps_as_for_5(staff, submit, drain_blocks):
    small = steps_run(form_create("small"), blocks=1, actions=4, submit=submit, drain_blocks=drain_blocks)
    large = steps_run(form_create("large"), blocks=5, actions=9, submit=submit, drain_blocks=drain_blocks)
    assert (Step.objects.filter(run=small).count(), Step.objects.filter(run=large).count()) == (5, 50)
    staff.get(f"/builder/runs/{small.pk}/")  # the session and the permissions, once

    counted = {}
    for run in (small, large):
        with CaptureQueriesContext(connection) as queries:
            response = staff.get(f"/builder/runs/{run.pk}/")
        assert response.status_code == 200
        assert response.content.decode().count('class="step step-') == Step.objects.filter(run=run).count()
        counted[run.pk] = len(queries)
    assert counted[small.pk] == counted[large.pk] <= 10


def test_an_unknown_run_is_404(staff):
    assert staff.get("/builder/runs/999999/").status_code == 404
    assert staff.post("/builder/runs/999999/replay/").status_code == 404


# Cancel, retry, replay from a run's page --------------------------------------------------------

def test_cancel_from_the_run_page_comes_back_to_it_with_a_message(staff, outcome, submit):
    submit(outcome[0], outcome="ok")
    run = Run.objects.get()
    block = run.blocks.get()

    response = staff.post(f"/builder/blocks/{block.pk}/cancel/", {"next": f"/builder/runs/{run.pk}/"}, follow=True)

    assert response.redirect_chain == [(f"/builder/runs/{run.pk}/", 302)]
    html = response.content.decode()
    assert "Block “Work” cancelled." in html and 'data-state="cancelled"' in html
    block.refresh_from_db()
    assert block.state == BlockState.CANCELLED


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_a_next_to_another_site_is_ignored(staff, outcome, submit, next_url):
    record, _ = submit(outcome[0], outcome="ok")
    block = Block.objects.get()
    response = staff.post(f"/builder/blocks/{block.pk}/cancel/", {"next": next_url})
    assert response.status_code == 302 and response["Location"] == f"/builder/records/{record.pk}/"


def test_retry_from_the_run_page_queues_the_failed_block_and_comes_back(staff, outcome, submit, drain_blocks):
    form, _ = outcome
    record, _ = submit(form, outcome="fail")
    drain_blocks()
    run = Run.objects.get()
    Record.objects.filter(pk=record.pk).update(values={**record.values, "outcome": "ok"})  # the cause is fixed
    block = run.blocks.get()

    response = staff.post(f"/builder/blocks/{block.pk}/retry/", {"next": f"/builder/runs/{run.pk}/"}, follow=True)

    assert response.redirect_chain == [(f"/builder/runs/{run.pk}/", 302)]
    assert "Block “Work” queued again." in response.content.decode()
    assert 'hx-trigger="every 3s"' in response.content.decode()  # running again: the page follows it
    assert drain_blocks() == [(block.pk, BlockState.DONE)]
    assert 'data-state="done"' in staff.get(f"/builder/runs/{run.pk}/").content.decode()


def test_replay_starts_a_new_run_and_shows_it(staff, outcome, submit, drain_blocks):
    form, _ = outcome
    submit(form, outcome="ok")
    drain_blocks()
    run = Run.objects.get()

    response = staff.post(f"/builder/runs/{run.pk}/replay/", follow=True)

    replay = Run.objects.latest("id")
    assert replay.pk != run.pk and replay.version_id == run.version_id
    assert response.redirect_chain == [(f"/builder/runs/{replay.pk}/", 302)]
    assert f"Replay of run {run.pk}" in response.content.decode()

    # Each page says it afterwards too: the replay names its run, the run its replays.
    replay_page = staff.get(f"/builder/runs/{replay.pk}/").content.decode()
    assert f'<th>Replay of</th><td><a href="/builder/runs/{run.pk}/">run #{run.pk}</a>' in replay_page
    assert "Replayed as" not in replay_page
    run_page = staff.get(f"/builder/runs/{run.pk}/").content.decode()
    assert f'<th>Replayed as</th><td><a href="/builder/runs/{replay.pk}/">run #{replay.pk}</a></td>' in run_page
    staff.post(f"/builder/runs/{run.pk}/replay/")
    again = Run.objects.latest("id")
    run_page = staff.get(f"/builder/runs/{run.pk}/").content.decode()
    assert f'<a href="/builder/runs/{again.pk}/">run #{again.pk}</a> <span class="muted">(the last of 2 replays)' in run_page


def test_a_replay_whose_synchronous_phase_fails_keeps_the_record_and_says_why(staff, submit):
    form = form_create("gate", fields=[{"name": "name"}, {"name": "status"}, {"name": "seen", "internal": True}])
    tree_create(form, [
        set_field("seen", "yes"),
        {"kind": "condition", "field": "status", "op": "eq", "value": "closed",
         "children": [action("fail", message="Closed for {{ record.name }}")]},
    ])
    record, _ = submit(form, name="Ada", status="open")
    run = Run.objects.get()
    Record.objects.filter(pk=record.pk).update(values={"name": "Ada", "status": "closed"})

    response = staff.post(f"/builder/runs/{run.pk}/replay/", follow=True)

    assert response.redirect_chain == [(f"/builder/runs/{run.pk}/", 302)]
    assert "The replay was refused and nothing was saved: Closed for Ada" in response.content.decode()
    assert list(Run.objects.all()) == [run]
    assert Record.objects.get().values == {"name": "Ada", "status": "closed"}


def test_replay_of_an_unfinished_run_is_refused(staff, outcome, submit):
    submit(outcome[0], outcome="ok")
    run = Run.objects.get()
    response = staff.post(f"/builder/runs/{run.pk}/replay/", follow=True)
    assert "Only a finished run can be replayed" in response.content.decode()
    assert Run.objects.count() == 1


# Permissions and links --------------------------------------------------------------------------

def test_who_may_only_view_runs_sees_them_without_any_action(client, outcome, submit, drain_blocks):
    form, _ = outcome
    submit(form, outcome="fail")
    submit(form, outcome="ok")
    drain_blocks(include_future=False)
    failed, running = Run.objects.order_by("id")
    Block.objects.filter(run=running).update(due_at=timezone.now() + timedelta(hours=1))
    client.force_login(staff_create("watcher", "eventtree.view_run"))

    assert client.get("/builder/runs/").status_code == 200
    for run in (failed, running):
        html = client.get(f"/builder/runs/{run.pk}/").content.decode()
        for control in (">Retry</button>", ">Cancel</button>", "Replay this run"):
            assert control not in html, control
        assert "/builder/records/" not in html and "/versions/" not in html  # pages they may not see
    assert client.post(f"/builder/runs/{failed.pk}/replay/").status_code == 403
    assert client.post(f"/builder/blocks/{failed.blocks.get().pk}/retry/").status_code == 403
    assert Run.objects.count() == 2 and failed.blocks.get().state == BlockState.FAILED


def test_staff_without_view_run_get_403_and_anonymous_the_login_page(client, outcome, submit):
    submit(outcome[0], outcome="ok")
    run = Run.objects.get()
    urls = ["/builder/runs/", f"/builder/runs/{run.pk}/"]
    for url in urls:
        assert client.get(url)["Location"].startswith("/admin/login/"), url
    assert client.post(f"/builder/runs/{run.pk}/replay/")["Location"].startswith("/admin/login/")
    client.force_login(staff_create("builder", "eventtree.view_record", "eventtree.view_eventtree",
                                    "eventtree.change_block"))
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(f"/builder/runs/{run.pk}/replay/").status_code == 403
    assert Run.objects.count() == 1


def test_change_run_alone_may_cancel_retry_and_replay(client, outcome, submit):
    submit(outcome[0], outcome="ok")
    run = Run.objects.get()
    client.force_login(staff_create("operator", "eventtree.view_run", "eventtree.change_run"))
    assert ">Cancel</button>" in client.get(f"/builder/runs/{run.pk}/").content.decode()
    client.post(f"/builder/blocks/{run.blocks.get().pk}/cancel/", {"next": f"/builder/runs/{run.pk}/"})
    assert run.blocks.get().state == BlockState.CANCELLED
    assert client.post(f"/builder/runs/{run.pk}/replay/").status_code == 302
    assert Run.objects.count() == 2


def test_the_record_page_tree_editor_and_builder_nav_link_to_the_runs(staff, outcome, submit):
    form, tree = outcome
    record, _ = submit(form, outcome="ok")
    run = Run.objects.get()
    assert f'href="/builder/runs/{run.pk}/"' in staff.get(f"/builder/records/{record.pk}/").content.decode()
    editor = staff.get(f"/builder/trees/{tree.pk}/").content.decode()
    assert f'href="/builder/runs/?tree={tree.pk}">Runs</a>' in editor
    assert 'href="/builder/runs/">Runs</a>' in staff.get("/builder/").content.decode()
    # Without view_run no link leads to a page that would answer 403.
    other = Client()
    other.force_login(staff_create("no-runs", "eventtree.view_record", "eventtree.view_eventtree", "eventtree.view_form"))
    for url in (f"/builder/records/{record.pk}/", f"/builder/trees/{tree.pk}/", "/builder/"):
        assert "/builder/runs/" not in other.get(url).content.decode(), url
