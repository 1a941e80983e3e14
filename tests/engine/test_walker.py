"""The walk of DESIGN §3.2–§3.4, driven through a visitor's submit."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.core import mail
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from eventtree.engine.dispatch import SWEEPER_NAME
from eventtree.engine.timers import timers_next_due
from eventtree.models import (
    Block,
    BlockState,
    Flag,
    Record,
    Run,
    RunStatus,
    Step,
    StepStatus,
    Submission,
)
from eventtree.services.records import SubmissionRefused, record_submit
from tests.factories import REFERENCE_FIELDS, action, form_create, reference_tree_nodes, set_field, tree_create

pytestmark = pytest.mark.django_db


def queued_tasks() -> int:
    return OrmQ.objects.count() + Schedule.objects.exclude(name=SWEEPER_NAME).count()


def submit(form, capture, **values):
    with capture(execute=True):
        return record_submit(form=form, values=values)


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_reference_tree_runs_sync_actions_before_and_the_background_after(capture, drain_blocks):
    form = form_create("membership", fields=REFERENCE_FIELDS)
    tree_create(form, reference_tree_nodes())

    record, submission = submit(form, capture, name="Ada", email="ada@example.com")

    record.refresh_from_db()
    assert record.values["field_a"] == "A:Ada"
    assert record.values["field_d"] == "D"
    assert "field_b" not in record.values and "field_c" not in record.values
    assert mail.outbox == []
    block = Block.objects.get()
    assert block.state == BlockState.PENDING and block.label == "Slow part"
    assert OrmQ.objects.count() == 1  # handed to django-q2 once the request committed

    drain_blocks()

    record.refresh_from_db()
    assert (record.values["field_b"], record.values["field_c"]) == ("B", "C")
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert "field_a is A:Ada" in mail.outbox[0].body
    run = Run.objects.get()
    assert run.status == RunStatus.DONE and run.submission == submission
    assert Flag.objects.get(run=run, name=f"block:{block.node_key}").value is True
    assert list(run.steps.values_list("phase", flat=True)).count("background") == 3


def test_condition_runs_its_children_only_when_it_holds(capture):
    form = form_create("deals", fields=[{"name": "status"}, {"name": "note", "internal": True}])
    tree_create(form, [
        {"kind": "condition", "field": "status", "op": "eq", "value": "Won",
         "children": [set_field("note", "celebrate")]},
        {"kind": "condition", "field": "status", "op": "ne", "value": "Won",
         "children": [set_field("note", "follow up")]},
    ])

    won, _ = submit(form, capture, status="Won")
    lost, _ = submit(form, capture, status="Lost")

    assert Record.objects.get(pk=won.pk).values["note"] == "celebrate"
    assert Record.objects.get(pk=lost.pk).values["note"] == "follow up"
    skipped = Step.objects.filter(run__record=won, status=StepStatus.SKIPPED)
    assert skipped.count() == 1


def test_condition_inside_background_runs_in_the_worker(capture, drain_blocks):
    form = form_create("deals", fields=[{"name": "status"}, {"name": "note", "internal": True}])
    tree_create(form, [{"kind": "background", "children": [
        {"kind": "condition", "field": "status", "op": "contains", "value": "Wo",
         "children": [set_field("note", "in worker")]}]}])

    record, _ = submit(form, capture, status="Won")
    assert "note" not in Record.objects.get(pk=record.pk).values
    drain_blocks()
    assert Record.objects.get(pk=record.pk).values["note"] == "in worker"


def test_delay_by_duration_waits_for_the_timers_to_wake_it_at_its_due_time(capture, drain_blocks):
    form = form_create("later", fields=[{"name": "name"}, {"name": "done", "type": "checkbox", "internal": True}])
    tree_create(form, [{"kind": "delay", "seconds": 3600, "children": [set_field("done", "yes")]}])

    record, _ = submit(form, capture, name="x")

    block = Block.objects.get()
    assert dt.timedelta(minutes=59) < block.due_at - timezone.now() <= dt.timedelta(hours=1)
    assert queued_tasks() == 0  # nothing sent now: the timers wake it at its due time
    assert timers_next_due()[0] == block.due_at
    drain_blocks(include_future=False)
    assert Block.objects.get().state == BlockState.PENDING  # not due: a wake-up is not a command

    drain_blocks()
    assert Record.objects.get(pk=record.pk).values["done"] is True


def test_delay_of_now_is_a_background(capture):
    form = form_create("now")
    tree_create(form, [{"kind": "delay", "seconds": 0, "children": [action("log", message="hi")]}])

    submit(form, capture, name="x")

    assert Block.objects.get().due_at <= timezone.now()
    assert OrmQ.objects.count() == 1


def test_delay_relative_to_a_date_field(capture):
    form = form_create("visits", fields=[{"name": "appointment", "type": "date"}])
    tree_create(form, [{"kind": "delay", "field": "appointment", "offset_seconds": -86400,
                        "children": [action("log", message="reminder")]}])
    future = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    past = (timezone.localdate() - dt.timedelta(days=10)).isoformat()

    submit(form, capture, appointment=future)
    submit(form, capture, appointment=past)
    submit(form, capture, appointment="")

    future_block, past_block, empty_block = Block.objects.order_by("id")
    expected = timezone.make_aware(dt.datetime.fromisoformat(future)) - dt.timedelta(days=1)
    assert future_block.due_at == expected
    assert past_block.due_at <= timezone.now()  # a moment already past runs as soon as possible
    assert empty_block.state == BlockState.CANCELLED
    assert "holds no date" in empty_block.last_error


def test_sync_fail_rolls_back_everything_and_shows_its_message(capture):
    form = form_create("strict", fields=[{"name": "name"}, {"name": "field_a", "internal": True}])
    tree_create(form, [
        set_field("field_a", "A"),
        {"kind": "background", "children": [action("log", message="never")]},
        action("fail", message="Sorry {{ record.name }}, we are full."),
    ])

    with pytest.raises(SubmissionRefused) as refused:
        submit(form, capture, name="Bob")

    assert refused.value.message == "Sorry Bob, we are full."
    assert (Record.objects.count(), Submission.objects.count(), Run.objects.count()) == (0, 0, 0)
    assert Block.objects.count() == 0 and queued_tasks() == 0


def test_unexpected_sync_error_is_neutral_and_logged(capture, caplog):
    form = form_create("broken", fields=[{"name": "name"}, {"name": "count", "type": "number", "internal": True}])
    tree_create(form, [set_field("count", "not a number {{ record.name }}")])

    with caplog.at_level(logging.WARNING), pytest.raises(SubmissionRefused) as refused:
        submit(form, capture, name="Bob")

    assert "could not be processed" in refused.value.message
    assert "not a number" not in refused.value.message
    assert "not a valid number" in caplog.text
    assert Record.objects.count() == 0


def test_error_port_handles_a_failure_and_the_walk_goes_on(capture):
    form = form_create("ported", fields=[{"name": "name"}, {"name": "a", "internal": True},
                                         {"name": "b", "internal": True}, {"name": "c", "internal": True}])
    tree_create(form, [
        set_field("a", "before"),
        action("fail", message="boom", children=[set_field("b", "handled")]),
        set_field("c", "after"),
    ])

    record, _ = submit(form, capture, name="x")

    record.refresh_from_db()
    assert record.values | {} == {"name": "x", "a": "before", "b": "handled", "c": "after"}
    failed = Step.objects.get(status=StepStatus.FAILED)
    assert failed.error == "boom" and "error port" in failed.output
    assert Run.objects.get().status == RunStatus.DONE


def test_async_fail_is_retried_then_failed_keeping_every_attempt(capture, drain_blocks):
    form = form_create("flaky", fields=[{"name": "name"}, {"name": "b", "internal": True}])
    tree_create(form, [{"kind": "background", "children": [
        set_field("b", "written then rolled back"),
        action("fail", message="remote service said no"),
    ]}], max_attempts=3)

    record, _ = submit(form, capture, name="x")
    block = Block.objects.get()

    with capture(execute=True):
        from eventtree.engine.blocks import block_run

        assert block_run(block.pk) == BlockState.PENDING
    block.refresh_from_db()
    assert block.attempts == 1 and block.due_at > timezone.now()  # backoff
    assert "remote service said no" in block.last_error

    drain_blocks()

    block.refresh_from_db()
    assert block.state == BlockState.FAILED and block.attempts == 3
    assert "b" not in Record.objects.get(pk=record.pk).values  # each attempt rolled back
    failed_steps = Step.objects.filter(block=block, status=StepStatus.FAILED)
    assert sorted(failed_steps.values_list("attempt", flat=True)) == [1, 2, 3]
    assert Run.objects.get().status == RunStatus.FAILED


def test_no_active_tree_creates_no_submission_run_or_task(capture):
    form = form_create("quiet")
    tree_create(form, [action("log", message="inactive")], active=False)
    tree_create(form, [action("log", message="other event")], event="updated")

    record, submission = submit(form, capture, name="x")  # fills the active-tree cache

    assert submission is None
    assert (Submission.objects.count(), Run.objects.count(), queued_tasks()) == (0, 0, 0)
    # Cached: the next submit reads no tree table and writes only the record.
    with CaptureQueriesContext(connection) as queries:
        record_submit(form=form, values={"name": "y"})
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert "eventtree_eventtree" not in sql and "eventtree_node" not in sql
    assert [q["sql"].split()[0] for q in queries.captured_queries].count("INSERT") == 1


def test_activating_a_tree_takes_effect_at_the_next_submit(capture):
    form = form_create("toggle")
    tree = tree_create(form, [action("log", message="on")], active=False)
    submit(form, capture, name="x")

    tree.active = True
    with capture(execute=True):  # the builder's save commits
        tree.save()
    _, submission = submit(form, capture, name="y")

    assert submission is not None and Run.objects.count() == 1


def test_async_mode_runs_the_whole_tree_in_one_block(capture, drain_blocks):
    form = form_create("later", fields=[{"name": "name"}, {"name": "a", "internal": True}])
    tree_create(form, [set_field("a", "A"), action("fail", message="hidden")], mode="async", max_attempts=1)

    record, submission = submit(form, capture, name="x")

    assert "a" not in Record.objects.get(pk=record.pk).values
    assert Block.objects.get().node_key is None
    drain_blocks()
    assert Block.objects.get().state == BlockState.FAILED
    assert "a" not in Record.objects.get(pk=record.pk).values


def test_nested_background_creates_a_new_block_when_its_parent_commits(capture, drain_blocks):
    form = form_create("nested", fields=[{"name": "name"}, {"name": "a", "internal": True}])
    tree_create(form, [{"kind": "background", "label": "outer", "children": [
        {"kind": "background", "label": "inner", "children": [set_field("a", "deep")]}]}])

    record, _ = submit(form, capture, name="x")
    drain_blocks()

    assert list(Block.objects.order_by("id").values_list("label", "state")) == [
        ("outer", "done"), ("inner", "done")]
    assert Record.objects.get(pk=record.pk).values["a"] == "deep"
    assert Run.objects.get().status == RunStatus.DONE


def test_a_block_runs_once_however_often_it_is_woken(capture, drain_blocks):
    form = form_create("once", fields=[{"name": "name"}, {"name": "n", "type": "number", "internal": True, "default": 0}])
    tree_create(form, [{"kind": "background", "children": [set_field("n", "{{ record.n|add:1 }}")]}])

    record, _ = submit(form, capture, name="x")
    block = Block.objects.get()
    from eventtree.engine.blocks import block_run

    with capture(execute=True):
        results = [block_run(block.pk) for _ in range(3)]

    assert results == [BlockState.DONE, None, None]
    assert Record.objects.get(pk=record.pk).values["n"] == 1
