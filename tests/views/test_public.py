"""The visitor's pages: form, post-submission page, refresh loop, status JSON (DESIGN §3.5)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.test import Client
from django_q.models import OrmQ

from eventtree.models import Block, BlockState, Record, Run, Submission
from eventtree.services.records import record_update
from tests.factories import REFERENCE_FIELDS, action, form_create, reference_tree_nodes, set_field, tree_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def membership():
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application",
                       success_message="Thanks {{ record.name }}, your code is {{ record.field_a }}.")
    tree_create(form, reference_tree_nodes())
    return form


@pytest.fixture
def submitted(client: Client, membership, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/f/membership/", {"name": "Ada", "email": "ada@example.com"})
    assert response.status_code == 302
    return response["Location"]


def test_form_shows_public_fields_only(client, membership):
    page = client.get("/f/membership/").content.decode()
    assert 'name="name"' in page and 'name="email"' in page
    assert "field_a" not in page


def test_invalid_submit_shows_errors_keeps_input_and_saves_nothing(client, membership):
    response = client.post("/f/membership/", {"name": "Ada", "email": "not-an-email"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Enter a valid email address." in page
    assert 'value="Ada"' in page
    assert Record.objects.count() == 0


def test_submit_redirects_to_the_post_submission_page_with_sync_values(client, submitted):
    page = client.get(submitted).content.decode()
    assert "Thanks Ada, your code is A:Ada." in page
    assert "Processing" in page
    assert 'hx-trigger="every 2s"' in page
    assert '<meta http-equiv="refresh" content="3">' in page  # without JavaScript


def test_the_htmx_partial_polls_until_finished_then_stops_with_286(client, submitted, drain_blocks):
    running = client.get(submitted, **HTMX)
    assert running.status_code == 200
    assert 'hx-trigger="every 2s"' in running.content.decode()
    assert "<html" not in running.content.decode()
    assert "HX-Request" in running["Vary"]

    drain_blocks()

    finished = client.get(submitted, **HTMX)
    assert finished.status_code == 286
    body = finished.content.decode()
    assert "Everything has been processed" in body and "hx-trigger" not in body
    page = client.get(submitted).content.decode()
    assert "http-equiv" not in page and "hx-trigger" not in page


def test_status_json(client, submitted, drain_blocks):
    running = client.get(submitted + "status.json").json()
    blocks = running.pop("blocks")
    assert running == {"status": "running", "finished": False, "flags": {}, "progress": []}
    assert [{key: block[key] for key in ("tree", "label", "state", "attempts", "scheduled")}
            for block in blocks] == [
        {"tree": "On submit", "label": "Slow part", "state": "pending", "attempts": 0, "scheduled": False}]
    assert blocks[0]["due_at"] == Block.objects.get().due_at.isoformat()
    drain_blocks()
    done = client.get(submitted + "status.json").json()
    block = Block.objects.get()
    assert done["status"] == "done" and done["finished"] is True
    assert done["blocks"][0]["state"] == "done" and done["blocks"][0]["attempts"] == 1
    assert done["flags"] == {f"block:{block.node_key}": True}


def test_status_answers_304_while_nothing_changed(client, submitted, drain_blocks):
    first = client.get(submitted + "status.json")
    unchanged = client.get(submitted + "status.json", HTTP_IF_NONE_MATCH=first["ETag"])
    assert unchanged.status_code == 304
    partial = client.get(submitted, **HTMX)
    assert client.get(submitted, HTTP_IF_NONE_MATCH=partial["ETag"], **HTMX).status_code == 304

    drain_blocks()
    assert client.get(submitted + "status.json", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_status_polls_use_a_constant_number_of_queries(client, membership, django_assert_max_num_queries,
                                                      django_capture_on_commit_callbacks):
    tree_create(membership, reference_tree_nodes() * 5, name="Second")
    with django_capture_on_commit_callbacks(execute=True):
        url = client.post("/f/membership/", {"name": "Ada", "email": "a@example.com"})["Location"]
    assert Block.objects.count() == 6
    with django_assert_max_num_queries(6):
        client.get(url + "status.json")
    with django_assert_max_num_queries(6):
        client.get(url, **HTMX)


def test_progress_and_named_flags_are_shown(client, django_capture_on_commit_callbacks):
    form = form_create("progress", fields=[{"name": "name"}])
    tree_create(form, [
        action("progress", name="import", title="Importing", total="10", done="4", message="4 of 10"),
        action("set_flag", name="checked"),
        {"kind": "background", "children": [action("log", message="later")]},
    ])
    with django_capture_on_commit_callbacks(execute=True):
        url = client.post("/f/progress/", {"name": "x"})["Location"]

    page = client.get(url).content.decode()
    assert '<progress max="10" value="4">' in page and "Importing" in page
    assert "checked" in page
    data = client.get(url + "status.json").json()
    assert data["progress"] == [{"name": "import", "title": "Importing", "total": 10, "done": 4, "message": "4 of 10"}]
    assert data["flags"] == {"checked": True}


def test_completion_flags_finish_the_page_before_every_block(client, django_capture_on_commit_callbacks):
    form = form_create("quick", fields=[{"name": "name"}], completion_flags=["ready"])
    tree_create(form, [action("set_flag", name="ready"),
                       {"kind": "delay", "seconds": 3600, "children": [action("log", message="later")]}])
    with django_capture_on_commit_callbacks(execute=True):
        url = client.post("/f/quick/", {"name": "x"})["Location"]

    data = client.get(url + "status.json").json()
    assert data["finished"] is True and data["status"] == "done"
    assert data["blocks"][0]["state"] == "pending" and data["blocks"][0]["scheduled"] is True
    assert "scheduled" in client.get(url).content.decode()


def test_sync_fail_re_renders_the_form_with_its_message(client):
    form = form_create("full", fields=[{"name": "name", "required": True}])
    tree_create(form, [action("fail", message="We are full, {{ record.name }}.")])

    response = client.post("/f/full/", {"name": "Bob"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "We are full, Bob." in page and 'value="Bob"' in page
    assert (Record.objects.count(), Submission.objects.count(), Run.objects.count(), OrmQ.objects.count()) == (0, 0, 0, 0)


def test_failed_background_is_shown_neutrally(client, drain_blocks, django_capture_on_commit_callbacks):
    form = form_create("flaky", fields=[{"name": "name"}])
    tree_create(form, [{"kind": "background", "children": [
        action("fail", message="Traceback: database password is hunter2")]}], max_attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        url = client.post("/f/flaky/", {"name": "x"})["Location"]
    drain_blocks()

    page = client.get(url).content.decode()
    data = client.get(url + "status.json").json()
    assert "could not be completed" in page and "hunter2" not in page
    assert data["status"] == "failed" and "hunter2" not in str(data)
    assert Block.objects.get().state == BlockState.FAILED


def test_no_active_tree_redirects_to_the_plain_submitted_page(client):
    form_create("plain", fields=[{"name": "name"}], success_message="Got it.")

    response = client.post("/f/plain/", {"name": "x"})

    assert response["Location"] == "/f/plain/submitted/"
    assert "Got it." in client.get(response["Location"]).content.decode()
    assert Submission.objects.count() == 0 and Run.objects.count() == 0


def test_unknown_token_and_form_are_404(client, submitted):
    assert client.get("/f/membership/submitted/not-a-token/").status_code == 404
    assert client.get("/f/nope/").status_code == 404
    token = submitted.rstrip("/").rsplit("/", 1)[1]
    form_create("other")
    assert client.get(f"/f/other/submitted/{token}/").status_code == 404


def test_login_only_form_sends_visitors_to_our_login_page_and_back(client, django_user_model):
    form_create("members-only", fields=[{"name": "name"}], login_required=True)
    user = django_user_model.objects.create_user("member", password="pw")  # not staff
    response = client.get("/f/members-only/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/f/members-only/"
    login_page = client.get(response["Location"])
    assert login_page.status_code == 200 and 'name="username"' in login_page.content.decode()

    logged_in = client.post(response["Location"], {"username": "member", "password": "pw"})
    assert logged_in["Location"] == "/f/members-only/"
    client.post("/f/members-only/", {"name": "x"})
    assert Record.objects.get().user == user
    assert "Log out" in client.get("/f/members-only/").content.decode()

    assert client.post("/accounts/logout/")["Location"] == "/"
    assert client.get("/f/members-only/").status_code == 302


def test_message_escapes_submitted_html(client, membership, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        url = client.post("/f/membership/", {"name": "<script>x</script>", "email": "a@example.com"})["Location"]
    page = client.get(url).content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


def test_the_page_etag_covers_the_message(client, membership, submitted, django_capture_on_commit_callbacks):
    first = client.get(submitted)
    assert client.get(submitted, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304

    with django_capture_on_commit_callbacks(execute=True):
        membership.success_message = "Welcome aboard, {{ record.name }}."
        membership.save()

    changed = client.get(submitted, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and "Welcome aboard, Ada." in changed.content.decode()
    assert changed["ETag"] != first["ETag"]
    partial = client.get(submitted, **HTMX)
    json_etag = client.get(submitted + "status.json")["ETag"]
    assert len({changed["ETag"], partial["ETag"], json_etag}) == 3  # one per variant
    assert client.get(submitted, HTTP_IF_NONE_MATCH=f'W/{partial["ETag"]}', **HTMX).status_code == 304


def test_the_page_etag_follows_record_values_quoted_by_the_message(
    client, submitted, django_capture_on_commit_callbacks
):
    first = client.get(submitted)
    with django_capture_on_commit_callbacks(execute=True):  # staff edit the record
        record_update(record=Record.objects.get(), values={"field_a": "A:changed"})
    changed = client.get(submitted, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and "A:changed" in changed.content.decode()


def test_a_too_large_submit_is_refused_before_it_is_read(client, membership):
    from django.core.files.uploadedfile import SimpleUploadedFile

    huge = SimpleUploadedFile("huge.bin", b"x" * (20 * 1024 * 1024))
    response = client.post("/f/membership/", {"name": "Ada", "email": "a@example.com", "file": huge})

    assert response.status_code == 413
    assert "too large" in response.content.decode()
    assert Record.objects.count() == 0


def test_the_page_shown_when_nothing_runs_shows_the_message_without_template_syntax(client):
    form = form_create("plain", success_message="Thank you, {{ record.name }}! <b>Bold</b>")

    page = client.get(f"/f/{form.slug}/submitted/").content.decode()

    assert "Thank you, !" in page and "{{" not in page and "&lt;b&gt;Bold&lt;/b&gt;" in page


# What a poll costs (DESIGN §3.5) ----------------------------------------------------------------

@pytest.mark.parametrize("variant", [{}, HTMX, "json"])
def test_an_unchanged_poll_is_a_304_from_the_cache_and_one_query_without_it(
    client, submitted, variant, django_assert_num_queries
):
    url, headers = (submitted + "status.json", {}) if variant == "json" else (submitted, variant)
    first = client.get(url, **headers)
    assert first.status_code == 200

    with django_assert_num_queries(0):
        assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **headers).status_code == 304
    cache.clear()  # evicted, or a cache server restarted
    with django_assert_num_queries(1):
        assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **headers).status_code == 304


def test_a_poll_sees_each_change_of_a_block_at_once(client, submitted, drain_blocks):
    first = client.get(submitted + "status.json")
    assert client.get(submitted + "status.json", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304

    drain_blocks()

    done = client.get(submitted + "status.json", HTTP_IF_NONE_MATCH=first["ETag"])
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert client.get(submitted + "status.json", HTTP_IF_NONE_MATCH=done["ETag"]).status_code == 304


# What a submit costs ---------------------------------------------------------------------------

def statements(queries) -> list[str]:
    """The SQL a request ran, without the savepoints of the test's own transaction."""
    return [query["sql"] for query in queries.captured_queries
            if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def submit_statements(client: Client, slug: str, capture) -> list[str]:
    with CaptureQueriesContext(connection) as queries, capture(execute=True):
        assert client.post(f"/f/{slug}/", {"name": "Ada", "email": "ada@example.com"}).status_code == 302
    return statements(queries)


def test_a_submit_without_tree_inserts_the_record_and_reads_nothing_once_the_caches_are_warm(
    client, django_capture_on_commit_callbacks
):
    form_create("plain", fields=REFERENCE_FIELDS)
    submit_statements(client, "plain", django_capture_on_commit_callbacks)

    assert [sql.split()[0] for sql in submit_statements(client, "plain", django_capture_on_commit_callbacks)] == [
        "INSERT"]


def test_a_submit_of_the_reference_tree_costs_the_same_whatever_its_number_of_sync_actions(
    client, django_capture_on_commit_callbacks
):
    counts = {}
    for sync_actions in (2, 8):
        form = form_create(f"membership{sync_actions}", fields=REFERENCE_FIELDS)
        nodes = reference_tree_nodes()
        nodes[2:2] = [set_field("field_d", f"D{i}") for i in range(sync_actions - 2)]
        tree_create(form, nodes)
        submit_statements(client, form.slug, django_capture_on_commit_callbacks)
        warm = submit_statements(client, form.slug, django_capture_on_commit_callbacks)
        assert sum(sql.startswith('UPDATE "eventtree_record"') for sql in warm) == 1
        assert not any(sql.startswith("SELECT") and "eventtree_field" in sql for sql in warm)
        counts[sync_actions] = [sql.split()[0] for sql in warm]

    # In one transaction: the record, its submission, run and block, the record's values once, the
    # steps; then the block's wake-up: its mark (returning the blocks marked) and its task.
    assert counts[2] == counts[8] == ["INSERT"] * 4 + ["UPDATE", "INSERT", "UPDATE", "INSERT"]


def test_a_poll_sees_the_sweeper_put_back_the_block_of_a_worker_that_died(
    client, submitted, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from eventtree.engine.blocks import block_claim
    from eventtree.engine.sweeper import sweep

    block_claim(Block.objects.get().pk)  # a worker takes the block, then dies
    running = client.get(submitted + "status.json")
    assert running.json()["blocks"][0]["state"] == "running"
    Block.objects.update(lease_until=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        sweep()

    again = client.get(submitted + "status.json", HTTP_IF_NONE_MATCH=running["ETag"])
    assert again.status_code == 200 and again.json()["blocks"][0]["state"] == "pending"


def test_the_public_form_shows_its_fields_in_their_new_order_once_moved(
    client, membership, django_capture_on_commit_callbacks
):
    from eventtree.services.forms import field_move

    before = client.get("/f/membership/").content.decode()  # and the form is cached
    assert before.index('name="name"') < before.index('name="email"')
    with django_capture_on_commit_callbacks(execute=True):
        field_move(field=membership.fields.get(name="email"), offset=-1)

    page = client.get("/f/membership/").content.decode()
    assert page.index('name="email"') < page.index('name="name"')
