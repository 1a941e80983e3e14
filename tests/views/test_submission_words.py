"""The post-submission page speaks the visitor's language: the builder's labels or nothing (never
"Background" or "Delay"), when a waiting block is expected, and cancelled blocks as cancelled."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.test import Client
from django.utils import timezone

from eventtree.models import Block
from eventtree.selectors_status import expected_words
from eventtree.services.runs import block_cancel
from tests.factories import action, form_create, tree_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LATER = [action("log", message="later")]


def submitted(client: Client, capture, nodes: list[dict], **tree) -> str:
    form = form_create("visit", fields=[{"name": "name"}], name="Visit")
    tree_create(form, nodes, **tree)
    with capture(execute=True):
        response = client.post("/f/visit/", {"name": "Ada"})
    assert response.status_code == 302
    return response["Location"]


def status_section(page: str) -> str:
    return page[page.index('<section id="status"'):page.index("</section>")]


def test_blocks_show_the_builders_labels_or_a_generic_row_never_their_kind(
    client, django_capture_on_commit_callbacks
):
    url = submitted(client, django_capture_on_commit_callbacks, [
        {"kind": "background", "label": "Checking your answers", "children": LATER},
        {"kind": "background", "children": LATER},
        {"kind": "delay", "seconds": 300, "children": LATER},
    ])

    section = status_section(client.get(url).content.decode())

    assert "Checking your answers" in section
    assert section.count("Processing</li>") == 1 and section.count("Processing <span") == 1
    assert "Background" not in section and "Delay" not in section
    # The status JSON keeps its fields and values (DESIGN §3.5).
    blocks = client.get(url + "status.json").json()["blocks"]
    assert [block["label"] for block in blocks] == ["Checking your answers", "Background", "Delay (5 min)"]
    assert set(blocks[0]) == {"tree", "label", "state", "attempts", "due_at", "scheduled"}


def test_a_tree_run_whole_in_the_background_shows_a_generic_row_not_its_name(
    client, django_capture_on_commit_callbacks
):
    url = submitted(client, django_capture_on_commit_callbacks, LATER, mode="async", name="Internal tree 7")

    section = status_section(client.get(url).content.decode())

    assert "Processing</li>" in section and "Internal tree 7" not in section


def test_a_waiting_delay_says_when_it_is_expected_and_a_finished_unlabelled_block_has_no_row(
    client, django_capture_on_commit_callbacks, drain_blocks
):
    url = submitted(client, django_capture_on_commit_callbacks, [
        {"kind": "delay", "label": "Your reminder", "seconds": 300, "children": LATER},
        {"kind": "background", "children": LATER},
    ])

    section = status_section(client.get(url).content.decode())
    assert 'scheduled</span> Your reminder <span class="expected muted">expected in about 5 minutes</span>' in section

    drain_blocks(include_future=False)  # the Background runs, the Delay still waits
    section = status_section(client.get(url).content.decode())
    assert "Processing</li>" not in section and "Your reminder" in section


def test_the_page_tells_the_time_left_anew_as_it_passes_not_a_frozen_304(
    client, django_capture_on_commit_callbacks, monkeypatch
):
    url = submitted(client, django_capture_on_commit_callbacks, [
        {"kind": "delay", "label": "Your reminder", "seconds": 300, "children": LATER}])
    first = client.get(url, **HTMX)
    assert "in about 5 minutes" in first.content.decode()
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **HTMX).status_code == 304

    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=60))

    later = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **HTMX)
    assert later.status_code == 200 and "in about 4 minutes" in later.content.decode()
    assert client.get(url, HTTP_IF_NONE_MATCH=later["ETag"], **HTMX).status_code == 304


def test_an_unchanged_poll_of_a_waiting_delay_is_still_a_304_without_a_query(
    client, django_capture_on_commit_callbacks, django_assert_num_queries
):
    url = submitted(client, django_capture_on_commit_callbacks, [
        {"kind": "delay", "seconds": 3600, "children": LATER},
        {"kind": "delay", "seconds": 86400 * 3, "children": LATER}])
    first = client.get(url, **HTMX)

    with django_assert_num_queries(0):
        assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"], **HTMX).status_code == 304


def test_a_submission_whose_blocks_were_all_cancelled_reads_as_cancelled(
    client, django_capture_on_commit_callbacks
):
    url = submitted(client, django_capture_on_commit_callbacks, [
        {"kind": "delay", "label": "Your reminder", "seconds": 3600, "children": LATER},
        {"kind": "delay", "seconds": 7200, "children": LATER}])

    for block in Block.objects.all():
        with django_capture_on_commit_callbacks(execute=True):
            block_cancel(block_id=block.pk)

    response = client.get(url, **HTMX)
    section = status_section(response.content.decode())
    assert response.status_code == 286  # finished: the polling stops
    assert "The processing of this submission was cancelled." in section
    assert "Everything has been processed" not in section
    assert 'cancelled</span> Your reminder</li>' in section and "Processing</li>" not in section


def test_a_submission_with_a_block_cancelled_and_one_done_does_not_say_everything_was_processed(
    client, django_capture_on_commit_callbacks, drain_blocks
):
    url = submitted(client, django_capture_on_commit_callbacks, [
        {"kind": "background", "label": "Checking your answers", "children": LATER},
        {"kind": "delay", "seconds": 7200, "children": LATER}])
    drain_blocks(include_future=False)
    with django_capture_on_commit_callbacks(execute=True):
        block_cancel(block_id=Block.objects.get(state="pending").pk)

    section = status_section(client.get(url).content.decode())

    assert "Processing has finished; part of it was cancelled." in section
    assert "Everything has been processed" not in section


@pytest.mark.parametrize(("seconds", "words"), [
    (0, ""), (-5, ""), (3, "in about 10 s"), (20, "in about 20 s"), (54, "in about 50 s"),
    (56, "in about 1 minute"), (299, "in about 5 minutes"), (3500, "in about 58 minutes"),
    (3600, "in about 1 hour"), (5 * 3600 + 100, "in about 5 hours"), (86399, "in about 24 hours"),
])
def test_the_time_until_a_block_is_due_in_words(seconds, words):
    now = datetime(2027, 3, 1, 12, 0, tzinfo=dt_timezone.utc)
    assert expected_words(now + timedelta(seconds=seconds), now) == words


def test_a_block_due_after_more_than_a_day_names_its_day_in_the_projects_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    now = datetime(2027, 3, 1, 12, 0, tzinfo=dt_timezone.utc)
    # 23:30 in UTC on 2 March is 00:30 on 3 March in Paris.
    assert expected_words(datetime(2027, 3, 2, 23, 30, tzinfo=dt_timezone.utc), now) == "on 3 March"
    assert expected_words(datetime(2028, 1, 5, 9, 0, tzinfo=dt_timezone.utc), now) == "on 5 January 2028"
