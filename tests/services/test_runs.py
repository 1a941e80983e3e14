"""Staff operations on runs (DESIGN §3.9): cancel a pending block, retry a failed one, replay a run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_q.models import OrmQ

from eventtree.engine.blocks import block_claim
from eventtree.engine.sweeper import sweep
from eventtree.engine.timers import timers_tick
from eventtree.models import Block, BlockState, Field, Node, OutboxMessage, Record, Run, RunStatus, Step, StepStatus
from eventtree.services.records import record_submit
from eventtree.services.runs import BlockStateError, RunReplayRefused, block_cancel, block_retry, run_replay
from eventtree.tasks import run_block
from tests.factories import (
    REFERENCE_FIELDS,
    action,
    form_create,
    reference_tree_nodes,
    set_field,
    tree_create,
    tree_publish_unchecked,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    def submit(form, **values):
        with django_capture_on_commit_callbacks(execute=True):
            return record_submit(form=form, values=values)

    return submit


def status_json(client, submission) -> dict:
    return client.get(f"/f/{submission.form.slug}/submitted/{submission.token}/status.json").json()


def block_snapshot(block_id: int) -> dict:
    return Block.objects.values(
        "state", "attempts", "max_attempts", "due_at", "lease_until", "finished_at", "last_error", "updated_at"
    ).get(pk=block_id)


def outcome_form():
    """A background that succeeds, or fails at its only attempt when the record says `fail`."""
    form = form_create("outcome", fields=[{"name": "outcome"}, {"name": "result", "internal": True}])
    tree_create(form, [{"kind": "background", "label": "Work", "children": [
        set_field("result", "ran"),
        {"kind": "condition", "field": "outcome", "op": "eq", "value": "fail",
         "children": [action("fail", message="Refused")]},
    ]}], max_attempts=1)
    return form


def block_bring_to(state: BlockState, *, form, submit, drain_blocks) -> Block:
    """Submit to `outcome_form` and take its only block to `state`."""
    submit(form, outcome="fail" if state == BlockState.FAILED else "ok")
    block = Block.objects.get()
    if state == BlockState.RUNNING:
        assert block_claim(block.pk) is not None  # a worker holds it, with a live lease
    elif state == BlockState.CANCELLED:
        block_cancel(block_id=block.pk)
    elif state != BlockState.PENDING:
        drain_blocks()
    block.refresh_from_db()
    assert block.state == state
    return block


# Cancel ----------------------------------------------------------------------------------------

def test_cancelling_a_pending_block_means_its_children_never_run(client, submit, drain_blocks):
    form = form_create("membership", fields=REFERENCE_FIELDS)
    tree_create(form, reference_tree_nodes())
    record, submission = submit(form, name="Ada", email="ada@example.com")
    block = Block.objects.get()

    cancelled = block_cancel(block_id=block.pk)

    assert cancelled.state == BlockState.CANCELLED
    assert drain_blocks() == []
    assert run_block(block.pk) is None  # the wake-up queued at submit arrives: nothing to do
    record.refresh_from_db()
    assert (record.values["field_a"], record.values["field_d"]) == ("A:Ada", "D")  # the sync part stays
    assert "field_b" not in record.values and "field_c" not in record.values
    assert mail.outbox == [] and OutboxMessage.objects.count() == 0
    block.refresh_from_db()
    assert (block.state, block.attempts) == (BlockState.CANCELLED, 0)
    assert not Step.objects.filter(block=block).exists()
    run = Run.objects.get()
    assert run.status == RunStatus.DONE and run.finished_at is not None
    status = status_json(client, submission)
    assert (status["status"], status["finished"]) == ("done", True)
    assert [(b["label"], b["state"], b["attempts"], b["due_at"]) for b in status["blocks"]] == [
        ("Slow part", "cancelled", 0, None)]
    assert status["flags"] == {}  # a cancelled block does not set its block flag


def test_the_run_of_a_cancelled_block_settles_when_its_other_blocks_are_done(client, submit, drain_blocks):
    form = form_create("two", fields=[{"name": "name"}, {"name": "first", "internal": True},
                                      {"name": "second", "internal": True}])
    tree_create(form, [
        {"kind": "background", "label": "First", "children": [set_field("first", "ran")]},
        {"kind": "background", "label": "Second", "children": [set_field("second", "ran")]},
    ])
    record, submission = submit(form, name="x")
    first, second = Block.objects.order_by("id")

    block_cancel(block_id=first.pk)

    assert Run.objects.get().status == RunStatus.RUNNING  # the second block is still to run
    assert status_json(client, submission)["status"] == "running"
    assert drain_blocks() == [(second.pk, BlockState.DONE)]
    record.refresh_from_db()
    assert "first" not in record.values and record.values["second"] == "ran"
    assert Run.objects.get().status == RunStatus.DONE
    status = status_json(client, submission)
    assert (status["status"], status["finished"]) == ("done", True)
    assert [(b["label"], b["state"]) for b in status["blocks"]] == [("First", "cancelled"), ("Second", "done")]
    assert status["flags"] == {f"block:{second.node_key}": True}


def test_cancelling_a_delay_due_later_means_it_never_runs(client, submit, drain_blocks):
    form = form_create("later", fields=[{"name": "email", "type": "email"}, {"name": "reminded", "internal": True}])
    tree_create(form, [{"kind": "delay", "seconds": 3600, "label": "Reminder", "children": [
        set_field("reminded", "yes"),
        action("send_email", to="{{ record.email }}", subject="Reminder", body="Hello"),
    ]}])
    record, submission = submit(form, email="ada@example.com")
    block = Block.objects.get()
    assert status_json(client, submission)["blocks"][0]["scheduled"] is True

    block_cancel(block_id=block.pk)

    # The hour passes: the timers look, a stray wake-up arrives, the sweeper looks, a worker drains.
    Block.objects.filter(pk=block.pk).update(due_at=timezone.now() - timedelta(hours=1))
    assert timers_tick(max_sleep=1.0) == 1.0 and not OrmQ.objects.exists()
    assert run_block(block.pk) is None
    assert sweep().woken == 0
    assert drain_blocks() == []
    record.refresh_from_db()
    assert "reminded" not in record.values
    assert mail.outbox == []
    assert Block.objects.get().state == BlockState.CANCELLED
    assert Run.objects.get().status == RunStatus.DONE
    status = status_json(client, submission)
    assert (status["status"], status["finished"]) == ("done", True)
    assert [(b["state"], b["scheduled"], b["due_at"]) for b in status["blocks"]] == [("cancelled", False, None)]


@pytest.mark.parametrize(("service", "state"), [
    *((block_cancel, state) for state in (BlockState.RUNNING, BlockState.DONE, BlockState.FAILED, BlockState.CANCELLED)),
    *((block_retry, state) for state in (BlockState.PENDING, BlockState.RUNNING, BlockState.DONE, BlockState.CANCELLED)),
])
def test_cancel_takes_only_pending_blocks_and_retry_only_failed_ones(service, state, submit, drain_blocks):
    form = outcome_form()
    block = block_bring_to(state, form=form, submit=submit, drain_blocks=drain_blocks)
    record_before = Record.objects.get().values
    block_before = block_snapshot(block.pk)
    run_before = Run.objects.values("status", "finished_at").get()
    refusal = "Only a pending block can be cancelled" if service is block_cancel else "Only a failed block can be retried"

    with pytest.raises(BlockStateError, match=refusal):
        service(block_id=block.pk)

    assert block_snapshot(block.pk) == block_before
    assert Run.objects.values("status", "finished_at").get() == run_before
    assert Record.objects.get().values == record_before


# Retry -----------------------------------------------------------------------------------------

@pytest.fixture
def failed_welcome(submit, drain_blocks):
    """A background that fails both its attempts: it sets a field that staff deleted after the submit."""
    form = form_create("welcome", fields=[{"name": "email", "type": "email"}, {"name": "field_b", "internal": True},
                                          {"name": "member_since", "internal": True}])
    tree_create(form, [{"kind": "background", "label": "Welcome", "children": [
        set_field("field_b", "B"),
        action("send_email", to="{{ record.email }}", subject="Welcome", body="Hello"),
        set_field("member_since", "yes"),
    ]}], max_attempts=2)
    record, submission = submit(form, email="ada@example.com")
    Field.objects.filter(form=form, name="member_since").delete()
    block = Block.objects.get()
    assert [state for _, state in drain_blocks()] == [BlockState.PENDING, BlockState.FAILED]
    block.refresh_from_db()
    assert (block.state, block.attempts) == (BlockState.FAILED, 2)
    assert "no field 'member_since'" in block.last_error
    assert Run.objects.get().status == RunStatus.FAILED
    assert "field_b" not in Record.objects.get().values and mail.outbox == []  # rolled back, twice
    return form, record, submission, block


def test_retrying_a_failed_block_runs_it_once_more_and_the_run_can_finish(
    client, failed_welcome, drain_blocks, django_capture_on_commit_callbacks
):
    form, record, submission, block = failed_welcome
    with django_capture_on_commit_callbacks(execute=True):  # staff fix the form
        Field.objects.create(form=form, name="member_since", internal=True, position=2)

    block_retry(block_id=block.pk)

    block.refresh_from_db()
    assert (block.state, block.attempts) == (BlockState.PENDING, 2)
    run = Run.objects.get()
    assert run.status == RunStatus.RUNNING and run.finished_at is None
    waiting = status_json(client, submission)
    assert (waiting["status"], waiting["finished"]) == ("running", False)
    assert [(b["state"], b["attempts"]) for b in waiting["blocks"]] == [("pending", 2)]

    assert drain_blocks() == [(block.pk, BlockState.DONE)]

    block.refresh_from_db()
    assert (block.state, block.attempts) == (BlockState.DONE, 3)
    record.refresh_from_db()
    assert (record.values["field_b"], record.values["member_since"]) == ("B", "yes")
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert Run.objects.get().status == RunStatus.DONE
    done = status_json(client, submission)
    assert (done["status"], done["finished"]) == ("done", True)
    assert [(b["state"], b["attempts"]) for b in done["blocks"]] == [("done", 3)]
    # The history keeps every attempt: two failed ones, then the retry.
    failed_attempts = Step.objects.filter(block=block, status=StepStatus.FAILED).values_list("attempt", flat=True)
    assert sorted(failed_attempts) == [1, 2]
    assert Step.objects.filter(block=block, attempt=3, status=StepStatus.OK).count() == 3


def test_a_retry_that_fails_again_is_not_retried_further(client, failed_welcome, drain_blocks):
    form, record, submission, block = failed_welcome

    block_retry(block_id=block.pk)

    assert drain_blocks() == [(block.pk, BlockState.FAILED)]  # one attempt, no backoff retries
    block.refresh_from_db()
    assert (block.state, block.attempts) == (BlockState.FAILED, 3)
    assert Run.objects.get().status == RunStatus.FAILED
    assert "field_b" not in Record.objects.get().values and mail.outbox == []
    status = status_json(client, submission)
    assert (status["status"], status["finished"]) == ("failed", True)
    assert [(b["state"], b["attempts"]) for b in status["blocks"]] == [("failed", 3)]


# Replay ----------------------------------------------------------------------------------------

@pytest.fixture
def replayable(submit, drain_blocks, django_capture_on_commit_callbacks):
    """A done run of version 1 of a tree that a later version 2 replaced."""
    form = form_create("replay", fields=[{"name": "name"}, {"name": "greeting", "internal": True},
                                         {"name": "checked", "internal": True}])
    tree = tree_create(form, [
        set_field("greeting", "Hello {{ record.name }}"),
        {"kind": "background", "label": "Check", "children": [set_field("checked", "by v1 for {{ record.name }}")]},
    ])
    record, submission = submit(form, name="Ada")
    drain_blocks()
    run = Run.objects.get()
    assert run.status == RunStatus.DONE
    Node.objects.filter(tree=tree, kind="action", parent=None).update(config={"field": "greeting", "value": "v2"})
    with django_capture_on_commit_callbacks(execute=True):
        tree_publish_unchecked(tree)
    tree.refresh_from_db()
    assert tree.published.number == 2
    return form, tree, record, submission, run


def test_replay_runs_the_runs_own_version_on_the_record_as_it_is_now(
    replayable, drain_blocks, django_capture_on_commit_callbacks, django_user_model
):
    form, tree, record, submission, run = replayable
    Record.objects.filter(pk=record.pk).update(values={**Record.objects.get().values, "name": "Grace"})
    staff = django_user_model.objects.create_user("staff", is_staff=True)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        replay = run_replay(run_id=run.pk, user=staff)

    assert replay.pk != run.pk
    replay.refresh_from_db()
    assert replay.replay_of_id == run.pk
    assert (replay.tree_id, replay.version_id, replay.event, replay.submission_id) == (
        tree.pk, run.version_id, run.event, None)
    assert replay.version.number == 1 and tree.published.number == 2
    record.refresh_from_db()
    assert record.values["greeting"] == "Hello Grace"  # version 1's sync step, on today's name
    assert callbacks  # its block was handed to the workers on commit
    block = Block.objects.get(run=replay)
    assert OrmQ.objects.exists() and block.state == BlockState.PENDING
    assert drain_blocks() == [(block.pk, BlockState.DONE)]
    record.refresh_from_db()
    assert record.values["checked"] == "by v1 for Grace"
    replay.refresh_from_db()
    assert replay.status == RunStatus.DONE
    # The first run and its visitor's page are as they were.
    assert Run.objects.get(pk=run.pk).status == RunStatus.DONE
    assert list(submission.runs.all()) == [run]


def test_replay_of_a_failed_run_runs_the_whole_tree_again(submit, drain_blocks, django_user_model):
    form = outcome_form()
    record, _ = submit(form, outcome="fail")
    drain_blocks()
    run = Run.objects.get()
    assert run.status == RunStatus.FAILED
    Record.objects.filter(pk=record.pk).update(values={"outcome": "ok"})

    replay = run_replay(run_id=run.pk, user=django_user_model.objects.create_user("staff", is_staff=True))

    drain_blocks()
    replay.refresh_from_db()
    assert replay.status == RunStatus.DONE and Record.objects.get().values == {"outcome": "ok", "result": "ran"}
    assert Run.objects.get(pk=run.pk).status == RunStatus.FAILED  # the failed run keeps its history


def test_replay_refuses_a_running_run_and_writes_nothing(submit, django_user_model):
    form = outcome_form()
    submit(form, outcome="ok")
    run = Run.objects.get()
    with pytest.raises(RunReplayRefused, match="Only a finished run can be replayed"):
        run_replay(run_id=run.pk, user=django_user_model.objects.create_user("staff"))
    assert Run.objects.count() == 1 and Block.objects.count() == 1


def test_replay_refuses_a_version_that_no_longer_fits_the_form(replayable, django_user_model,
                                                               django_capture_on_commit_callbacks):
    form, tree, record, submission, run = replayable
    with django_capture_on_commit_callbacks(execute=True):
        Field.objects.filter(form=form, name="checked").delete()
    values = Record.objects.get().values

    with pytest.raises(RunReplayRefused, match="no longer runs on this form: .*checked"):
        run_replay(run_id=run.pk, user=django_user_model.objects.create_user("staff"))

    assert Run.objects.count() == 1 and Record.objects.get().values == values


def test_a_replay_whose_synchronous_phase_fails_leaves_the_record_and_writes_no_run(submit, django_user_model):
    form = form_create("gate", fields=[{"name": "name"}, {"name": "status"}, {"name": "seen", "internal": True}])
    tree_create(form, [
        set_field("seen", "{{ record.status }}"),
        {"kind": "background", "label": "Later", "children": [set_field("seen", "later")]},
        {"kind": "condition", "field": "status", "op": "eq", "value": "closed",
         "children": [action("fail", message="Closed for {{ record.name }}")]},
    ])
    record, _ = submit(form, name="Ada", status="open")
    Block.objects.update(state=BlockState.CANCELLED)
    Run.objects.update(status=RunStatus.DONE)
    Record.objects.filter(pk=record.pk).update(values={"name": "Ada", "status": "closed"})

    run = Run.objects.get()
    steps = Step.objects.count()

    with pytest.raises(RunReplayRefused, match="nothing was saved: Closed for Ada"):
        run_replay(run_id=run.pk, user=django_user_model.objects.create_user("staff"))

    assert list(Run.objects.all()) == [run] and Block.objects.count() == 1 and Step.objects.count() == steps
    assert Record.objects.get().values == {"name": "Ada", "status": "closed"}
