"""Blocks in workers (DESIGN §3.3, §3.4): claim, lease, retry, and the sweeper that loses nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import OrmQ

from eventtree.engine import blocks, dispatch
from eventtree.engine.blocks import block_claim, block_run
from eventtree.engine.dispatch import DELIVER_OUTBOX, RUN_BLOCK
from eventtree.engine.outbox import outbox_deliver
from eventtree.engine.sweeper import PENDING_GRACE_SECONDS, SweepResult, sweep
from eventtree.engine.timers import timers_next_due
from eventtree.models import (
    Block,
    BlockState,
    Flag,
    Node,
    OutboxMessage,
    OutboxState,
    Record,
    Run,
    RunStatus,
    Step,
    StepStatus,
    WokenBy,
    due_now,
)
from eventtree.services.records import record_submit
from eventtree.services.runs import block_cancel
from eventtree.services.trees import node_delete
from tests.factories import action, form_create, set_field, tree_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def submit(form, **values):
    """A visitor's submit. With the ORM broker its block's wake-up is queued in the submit's own
    transaction; each test runs it (`queued_tasks_run`), or takes it away (`wake_up_lost`)."""
    return record_submit(form=form, values=values)


def wake_ups_taken() -> None:
    """The queued wake-ups were taken by a worker (which may then die)."""
    OrmQ.objects.all().delete()


def wake_up_lost() -> None:
    """No wake-up reached the broker: a process stopped between its commit and the hand-over,
    with a broker outside the database (Redis)."""
    wake_ups_taken()
    Block.objects.update(woken_at=None, woken_by="")


def welcome_form(*, delay_seconds: int = 0, max_attempts: int = 3):
    """One Background (or Delay) that sets field_b, sends an email, and fails when outcome is `fail`."""
    form = form_create("welcome", fields=[{"name": "email", "type": "email"}, {"name": "outcome"},
                                          {"name": "field_b", "internal": True}])
    container = {"kind": "delay", "seconds": delay_seconds} if delay_seconds else {"kind": "background"}
    tree_create(form, [{**container, "label": "Welcome", "children": [
        set_field("field_b", "B"),
        action("send_email", to="{{ record.email }}", subject="Welcome", body="Hello"),
        {"kind": "condition", "field": "outcome", "op": "eq", "value": "fail",
         "children": [action("fail", message="Refused")]},
    ]}], max_attempts=max_attempts)
    return form


def status_json(client, submission) -> dict:
    return client.get(f"/f/{submission.form.slug}/submitted/{submission.token}/status.json").json()


def lease_expire(block_id: int) -> None:
    """The worker holding the block stopped answering: its lease runs out."""
    Block.objects.filter(pk=block_id).update(lease_until=timezone.now() - timedelta(seconds=1))


def queued_tasks_run(capture) -> list[tuple[str, tuple, object]]:
    """Take every task waiting in django-q2's ORM broker and run it here, as a worker would."""
    results = []
    for queued in OrmQ.objects.order_by("id"):
        task = queued.task
        queued.delete()
        with capture(execute=True):
            results.append((task["func"], tuple(task["args"]), import_string(task["func"])(*task["args"])))
    return results


def effects() -> tuple:
    """What a submitter or staff member could see of a block's work."""
    return (
        Record.objects.get().values,
        [message.to for message in mail.outbox],
        OutboxMessage.objects.count(),
        Step.objects.filter(block__isnull=False).count(),
        list(Flag.objects.values_list("name", "value")),
        list(Block.objects.values_list("state", "attempts", "due_at", "lease_until")),
    )


# Wake-ups --------------------------------------------------------------------------------------

@pytest.mark.parametrize("situation", ["done", "cancelled", "running", "not due"])
def test_a_wake_up_for_a_block_not_pending_or_not_due_does_nothing(situation, capture, drain_blocks):
    submit(welcome_form(delay_seconds=3600 if situation == "not due" else 0),
           email="ada@example.com", outcome="ok")
    block = Block.objects.get()
    if situation == "done":
        assert drain_blocks() == [(block.pk, BlockState.DONE)]
        assert len(mail.outbox) == 1
    elif situation == "cancelled":
        block_cancel(block_id=block.pk)
    elif situation == "running":
        assert block_claim(block.pk) is not None  # another worker holds it, with a live lease
    before = effects()

    with capture(execute=True):
        assert block_run(block.pk) is None

    assert effects() == before


def test_with_the_orm_broker_a_block_and_its_wake_up_commit_together(capture):
    # Fails on the code that handed the wake-up over after the commit: a process stopping in
    # between left the block waiting for the sweeper.
    form = welcome_form()
    submit(form, email="ada@example.com", outcome="ok")  # its on-commit callbacks never run
    block = Block.objects.get()
    assert (block.woken_by, block.woken_at is not None) == (WokenBy.COMMIT, True)
    assert queued_tasks_run(capture) == [(RUN_BLOCK, (block.pk,), "done")]

    with pytest.raises(RuntimeError), transaction.atomic():  # a submit rolled back after its walk
        submit(form, email="bob@example.com", outcome="ok")
        assert OrmQ.objects.count() == 1
        raise RuntimeError
    assert OrmQ.objects.count() == 0 and Block.objects.count() == 1


# A worker that died ----------------------------------------------------------------------------

def test_a_block_whose_worker_died_is_put_back_by_the_sweep_and_runs_once(client, capture):
    record, submission = submit(welcome_form(), email="ada@example.com", outcome="ok")
    wake_ups_taken()
    block = block_claim(Block.objects.get().pk)
    assert block is not None and block.attempts == 1

    assert sweep() == SweepResult()  # the lease still holds: the worker may be busy
    assert Block.objects.get().state == BlockState.RUNNING

    lease_expire(block.pk)
    result = sweep()

    assert (result.expired, result.failed, result.woken) == (1, 0, 1)
    block.refresh_from_db()
    assert (block.state, block.attempts, block.lease_until) == (BlockState.PENDING, 1, None)
    assert "stopped before it finished" in block.last_error
    assert "field_b" not in Record.objects.get().values and mail.outbox == []

    assert queued_tasks_run(capture) == [(RUN_BLOCK, (block.pk,), "done")]

    block.refresh_from_db()
    assert (block.state, block.attempts) == (BlockState.DONE, 2)
    assert Record.objects.get().values["field_b"] == "B"
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert set(Step.objects.filter(block=block).values_list("attempt", flat=True)) == {2}
    assert Run.objects.get().status == RunStatus.DONE
    status = status_json(client, submission)
    assert status["status"] == "done"
    assert [(b["state"], b["attempts"]) for b in status["blocks"]] == [("done", 2)]
    assert sweep() == SweepResult()  # nothing left to do


def test_a_block_whose_workers_died_at_every_attempt_is_failed_by_the_sweep(client, capture):
    record, submission = submit(welcome_form(max_attempts=2), email="ada@example.com", outcome="ok")
    block_id = Block.objects.get().pk
    assert block_claim(block_id) is not None
    lease_expire(block_id)
    assert sweep().expired == 1
    OrmQ.objects.all().delete()  # the wake-up reached a second worker, which dies too
    assert block_claim(block_id) is not None
    lease_expire(block_id)

    result = sweep()

    assert (result.expired, result.failed, result.woken) == (0, 1, 0)
    block = Block.objects.get()
    assert (block.state, block.attempts) == (BlockState.FAILED, 2)
    assert block.finished_at is not None and "stopped before it finished" in block.last_error
    assert OrmQ.objects.count() == 0  # nothing queued for it any more
    with capture(execute=True):
        assert block_run(block_id) is None
    assert "field_b" not in Record.objects.get().values and mail.outbox == []
    assert Run.objects.get().status == RunStatus.FAILED
    status = status_json(client, submission)
    assert (status["status"], status["finished"]) == ("failed", True)
    assert [(b["state"], b["attempts"]) for b in status["blocks"]] == [("failed", 2)]


# A lost wake-up --------------------------------------------------------------------------------

def test_a_pending_block_whose_wake_up_was_lost_is_re_sent_by_the_sweep(capture):
    submit(welcome_form(), email="ada@example.com", outcome="ok")
    block = Block.objects.get()
    wake_up_lost()
    assert sweep().woken == 0  # within the grace period its own wake-up may still arrive

    Block.objects.filter(pk=block.pk).update(
        due_at=timezone.now() - timedelta(seconds=PENDING_GRACE_SECONDS + 1)
    )
    assert sweep().woken == 1
    assert sweep().woken == 0  # its new wake-up is on its way: not sent again

    assert queued_tasks_run(capture) == [(RUN_BLOCK, (block.pk,), "done")]
    block.refresh_from_db()
    assert (block.state, block.attempts) == (BlockState.DONE, 1)
    assert Record.objects.get().values["field_b"] == "B"
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert Run.objects.get().status == RunStatus.DONE
    assert sweep() == SweepResult()


def test_a_woken_block_under_a_backlog_is_woken_again_only_once_its_wake_up_is_presumed_lost(
    settings, capture
):
    # Fails on the code whose sweeper re-sent every pending block each minute, piling up no-op
    # tasks behind a backlog.
    with capture(execute=True):
        submit(welcome_form(), email="ada@example.com", outcome="ok")
    block = Block.objects.get()
    assert OrmQ.objects.count() == 1  # its wake-up waits in the queue, behind others
    late = timezone.now() - timedelta(seconds=PENDING_GRACE_SECONDS + 30)
    Block.objects.filter(pk=block.pk).update(due_at=late, woken_at=late)

    assert sweep().woken == 0
    assert OrmQ.objects.count() == 1

    lost = timezone.now() - timedelta(seconds=settings.EVENTTREE["WAKE_LOST_SECONDS"] + 1)
    Block.objects.filter(pk=block.pk).update(due_at=lost, woken_at=lost)
    assert sweep().woken == 0  # older than the broker's re-delivery time, but still queued
    assert OrmQ.objects.count() == 1

    OrmQ.objects.all().delete()  # the broker lost it
    assert sweep().woken == 1
    assert sweep().woken == 0
    assert OrmQ.objects.count() == 1


def test_a_block_due_within_the_second_is_woken_when_the_worker_will_find_it_due(capture):
    # Fails on the code that sent a task for a block due within a second (by the web process's
    # clock) that the worker's claim then found not yet due: it waited for the sweeper.
    submit(welcome_form(), email="ada@example.com", outcome="ok")
    block = Block.objects.get()
    wake_up_lost()
    Block.objects.filter(pk=block.pk).update(due_at=timezone.now() + timedelta(milliseconds=500))

    dispatch.blocks_wake(Block.objects.filter(pk=block.pk), woken_by=WokenBy.COMMIT)

    assert not OrmQ.objects.exists()  # no task the worker would find early and drop
    assert timers_next_due()[0] == Block.objects.get().due_at  # the timers wake it when it is due
    assert block_claim(block.pk) is None  # not due yet, by the database's clock either

    Block.objects.filter(pk=block.pk).update(due_at=due_now())
    dispatch.blocks_wake(Block.objects.filter(pk=block.pk), woken_by=WokenBy.COMMIT)
    assert OrmQ.objects.count() == 1  # due: a task, which the claim takes
    assert block_claim(block.pk) is not None


def test_a_delay_due_later_is_not_re_sent_by_the_sweep():
    submit(welcome_form(delay_seconds=3600), email="ada@example.com", outcome="ok")

    assert sweep().woken == 0
    assert OrmQ.objects.count() == 0
    assert Block.objects.get().state == BlockState.PENDING


# Lease lost ------------------------------------------------------------------------------------

@pytest.fixture
def stall_after_claim(monkeypatch):
    """Run `meanwhile` once, right after the next block_run has claimed its block (before its walk)."""

    def stall(meanwhile):
        real_children = blocks.block_children

        def children_after_stall(block):
            monkeypatch.setattr(blocks, "block_children", real_children)
            meanwhile()
            return real_children(block)

        monkeypatch.setattr(blocks, "block_children", children_after_stall)

    return stall


def test_an_attempt_whose_lease_ran_out_is_rolled_back_and_the_block_runs_once(
    client, capture, drain_blocks, stall_after_claim
):
    record, submission = submit(welcome_form(), email="ada@example.com", outcome="ok")
    block_id = Block.objects.get().pk

    def lease_runs_out_and_sweep():
        lease_expire(block_id)
        assert sweep().expired == 1

    stall_after_claim(lease_runs_out_and_sweep)
    with capture(execute=True):
        assert block_run(block_id) is None

    block = Block.objects.get()
    assert (block.state, block.attempts) == (BlockState.PENDING, 1)  # as the sweeper left it
    assert "field_b" not in Record.objects.get().values
    assert mail.outbox == [] and OutboxMessage.objects.count() == 0
    assert not Flag.objects.exists()
    assert Run.objects.get().status == RunStatus.RUNNING

    assert drain_blocks() == [(block_id, BlockState.DONE)]

    assert Block.objects.get().attempts == 2
    assert Record.objects.get().values["field_b"] == "B"
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert status_json(client, submission)["status"] == "done"


@pytest.mark.parametrize("outcome", ["ok", "fail"])
def test_an_attempt_whose_block_another_worker_took_over_changes_nothing(outcome, capture, stall_after_claim):
    submit(welcome_form(), email="ada@example.com", outcome=outcome)
    block_id = Block.objects.get().pk
    taken_over = {}

    def another_worker_takes_over():
        lease_expire(block_id)
        sweep()
        taken_over["block"] = block_claim(block_id)

    stall_after_claim(another_worker_takes_over)
    with capture(execute=True):
        assert block_run(block_id) is None

    block = Block.objects.get()
    # The other worker's claim stands: neither finished, failed nor rescheduled by the loser.
    assert (block.state, block.attempts) == (BlockState.RUNNING, 2)
    assert block.lease_until == taken_over["block"].lease_until
    assert block.finished_at is None
    assert "field_b" not in Record.objects.get().values
    assert mail.outbox == [] and OutboxMessage.objects.count() == 0
    assert not Flag.objects.exists()
    assert timers_next_due() is None
    assert Run.objects.get().status == RunStatus.RUNNING


# Outbox ----------------------------------------------------------------------------------------

def test_an_email_whose_delivery_was_interrupted_is_sent_by_the_sweep_exactly_once(capture):
    submit(welcome_form(), email="ada@example.com", outcome="ok")
    block_id = Block.objects.get().pk
    # The worker takes the wake-up, commits the block, then dies before its on-commit delivery runs.
    wake_ups_taken()
    assert block_run(block_id) == BlockState.DONE
    message = OutboxMessage.objects.get()
    assert message.state == OutboxState.PENDING and mail.outbox == []
    assert sweep().outbox == 0  # within the grace period the on-commit delivery may still be under way

    OutboxMessage.objects.filter(pk=message.pk).update(
        created_at=F("created_at") - timedelta(seconds=PENDING_GRACE_SECONDS + 1)
    )
    assert sweep().outbox == 1
    assert sweep().outbox == 1  # swept again before a worker delivered it

    assert queued_tasks_run(capture) == [(DELIVER_OUTBOX, (message.pk,), True),
                                         (DELIVER_OUTBOX, (message.pk,), False)]
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert OutboxMessage.objects.get().state == OutboxState.SENT
    assert sweep().outbox == 0


# Retries ---------------------------------------------------------------------------------------

def test_a_failing_block_is_retried_with_exponential_backoff_then_fails(settings, client, capture):
    settings.EVENTTREE = {**settings.EVENTTREE, "RETRY_BASE_SECONDS": 60}
    record, submission = submit(welcome_form(max_attempts=3), email="ada@example.com", outcome="fail")
    block = Block.objects.get()

    for attempt, backoff in ((1, 60), (2, 120)):
        Block.objects.filter(pk=block.pk).update(due_at=due_now())  # its retry is due
        before = timezone.now()
        with capture(execute=True):
            assert block_run(block.pk) == BlockState.PENDING
        after = timezone.now()
        block.refresh_from_db()
        assert (block.attempts, block.last_error) == (attempt, "Refused")
        assert before + timedelta(seconds=backoff) <= block.due_at <= after + timedelta(seconds=backoff)
        # The timers wake it at that moment; an earlier wake-up does nothing.
        assert timers_next_due()[0] == block.due_at
        assert block_run(block.pk) is None
        assert Run.objects.get().status == RunStatus.RUNNING
        assert status_json(client, submission)["status"] == "running"

    Block.objects.filter(pk=block.pk).update(due_at=due_now())
    with capture(execute=True):
        assert block_run(block.pk) == BlockState.FAILED

    block.refresh_from_db()
    assert (block.state, block.attempts, block.last_error) == (BlockState.FAILED, 3, "Refused")
    assert timers_next_due() is None  # no retry after the last attempt
    assert Run.objects.get().status == RunStatus.FAILED
    assert status_json(client, submission)["status"] == "failed"
    assert "field_b" not in Record.objects.get().values and mail.outbox == []  # every attempt rolled back
    failed_steps = Step.objects.filter(block=block, status=StepStatus.FAILED)
    assert sorted(failed_steps.values_list("attempt", flat=True)) == [1, 2, 3]  # history keeps every attempt


# Edits while a block waits ---------------------------------------------------------------------

def receipt_submitted() -> None:
    """A submit whose synchronous phase sends a receipt and whose Background sets field_b."""
    form = form_create("receipt", fields=[{"name": "email", "type": "email"}, {"name": "field_b", "internal": True}])
    tree_create(form, [
        action("send_email", to="{{ record.email }}", subject="Receipt", body="Thanks"),
        {"kind": "background", "label": "Slow part", "children": [set_field("field_b", "B")]},
    ])
    submit(form, email="ada@example.com")



def test_a_waiting_block_runs_its_versions_nodes_after_its_node_was_deleted_from_the_draft(drain_blocks):
    receipt_submitted()
    assert outbox_deliver(OutboxMessage.objects.get().pk)  # the receipt of the synchronous phase
    block = Block.objects.get()

    node_delete(node=Node.objects.get(pk=block.node_key))  # staff remove the Background from the draft

    assert drain_blocks() == [(block.pk, BlockState.DONE)]
    assert Record.objects.get().values["field_b"] == "B"  # the run's version still has it
    assert Run.objects.get().status == RunStatus.DONE
    assert [m.subject for m in mail.outbox] == ["Receipt"]  # the synchronous part did not rerun


def test_a_waiting_block_whose_node_is_not_in_its_version_is_cancelled_when_it_comes_due(drain_blocks):
    receipt_submitted()
    block = Block.objects.get()
    Block.objects.filter(pk=block.pk).update(node_key=block.node_key + 1000)  # names no node of the version

    assert drain_blocks() == [(block.pk, BlockState.CANCELLED)]
    block.refresh_from_db()
    assert block.state == BlockState.CANCELLED and "version" in block.last_error
    assert Run.objects.get().status == RunStatus.DONE
    assert "field_b" not in Record.objects.get().values
    assert OutboxMessage.objects.count() == 1  # only the receipt of the synchronous phase


# Settling the run ------------------------------------------------------------------------------

def test_a_run_whose_only_block_could_never_be_scheduled_is_finished(client):
    form = form_create("visits", fields=[{"name": "appointment", "type": "date"}])
    tree_create(form, [{"kind": "delay", "field": "appointment", "offset_seconds": -86400,
                        "children": [action("log", message="reminder")]}])

    record, submission = submit(form, appointment="")

    assert Block.objects.get().state == BlockState.CANCELLED
    assert status_json(client, submission)["finished"] is True
    run = Run.objects.get()
    assert run.status == RunStatus.DONE and run.finished_at is not None
