"""Running a block in a worker (DESIGN §3.3, §3.4): claim, walk, settle, retry."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone

from eventtree.engine import dispatch
from eventtree.engine.alerts import alert_block_failed
from eventtree.engine.context import ExternalCallPending, RunContext, flag_set
from eventtree.engine.events import record_create_and_fire
from eventtree.engine.form_cache import form_cached
from eventtree.engine.outbox import outbox_call_make, outbox_deliver_on_commit
from eventtree.engine.poll_stamps import run_changed
from eventtree.engine.trees import subtree_find
from eventtree.engine.versions import version_nodes
from eventtree.engine.walker import NodeFailure, walk
from eventtree.engine.runs import run_settle
from eventtree.models import Block, BlockState, Phase, Record, Step

logger = logging.getLogger(__name__)


NODE_MISSING = "Its node is not part of the run's version."


class LeaseLost(Exception):
    """Another worker took the block over after this one's lease expired."""


def block_claim(block_id: int) -> Block | None:
    """Take a due, pending block for this worker with one atomic update; None if not ours.

    "Due" is decided by the database's clock, as the dispatch decides it. The claim uses up the
    block's wake-up (`woken_at` back to None): a block that becomes pending again (a retry) waits
    for a new one (from the timers, when it is due).
    """
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.EVENTTREE["BLOCK_LEASE_SECONDS"])
    claimed = Block.objects.filter(pk=block_id, state=BlockState.PENDING, due_at__lte=Now()).update(
        state=BlockState.RUNNING,
        attempts=F("attempts") + 1,
        lease_until=lease_until,
        woken_at=None,
        started_at=now,
        updated_at=now,
    )
    if not claimed:
        return None
    return Block.objects.select_related("run__tree", "run__submission").get(pk=block_id)


def block_run(block_id: int) -> BlockState | None:
    """Run a block if it is due and still pending; a wake-up for anything else does nothing.

    Returns the block's state afterwards, or None when this call did not run it.
    """
    block = block_claim(block_id)
    if block is None:
        return None
    run = block.run
    run_changed(run)  # running now: committed already
    context: RunContext | None = None
    try:
        children = block_children(block)
        if children is None:
            with transaction.atomic():
                block_finish(block, BlockState.CANCELLED, NODE_MISSING)
                run_settle(run.pk)
                run_changed(run)
            return BlockState.CANCELLED
        # Read before the transaction: on SQLite it holds the database's one write lock throughout.
        form = form_cached(form_id=run.tree.form_id)
        calls_made: set[str] = set()
        while True:
            try:
                with transaction.atomic():
                    # Locking the record serialises blocks that update it, so none loses another's update.
                    record = Record.objects.select_for_update().get(pk=run.record_id)
                    record.form = form
                    context = RunContext(run=run, record=record, phase=Phase.BACKGROUND, attempt=block.attempts,
                                         block=block, record_creator=record_create_and_fire)
                    walk(children, context)
                    outbox_deliver_on_commit(context.outbox)
                    Step.objects.bulk_create(context.steps)
                    block_finish(block, BlockState.DONE)
                    flag_set(run_id=run.pk, name=block.flag_name)
                    run_settle(run.pk)
                    run_changed(run)
                return BlockState.DONE
            except ExternalCallPending as call:
                block_external_call(block, call, calls_made)
    except LeaseLost:
        logger.warning("Block %s: lease lost, attempt %s rolled back", block.pk, block.attempts)
        return None
    except NodeFailure as failure:
        return block_attempt_failed(block, context, failure.detail, final=failure.permanent)
    except Exception as exc:
        logger.exception("Block %s raised", block.pk)
        return block_attempt_failed(block, context, f"{type(exc).__name__}: {exc}")


def block_external_call(block: Block, call: ExternalCallPending, calls_made: set[str]) -> None:
    """Make the external call (an http_request) that the block's walk stopped at, then let the
    block walk again from its start, in a new transaction, finding the call's outcome.

    The walk's transaction has been rolled back already, so no lock is held while the call waits
    on the network, and the call's outbox row, written and settled here in commits of its own
    (engine/outbox.py), outlives any later rollback of the block: a retried attempt finds the
    outcome and sends nothing. The lease is renewed first; a block that lost it makes no call.
    """
    if call.key in calls_made:
        raise RuntimeError(f"The call {call.key} has no outcome after it was made")
    calls_made.add(call.key)
    now = timezone.now()
    renewed = Block.objects.filter(pk=block.pk, state=BlockState.RUNNING, attempts=block.attempts).update(
        lease_until=now + timedelta(seconds=settings.EVENTTREE["BLOCK_LEASE_SECONDS"]), updated_at=now
    )
    if not renewed:
        raise LeaseLost(block.pk)
    outbox_call_make(call)


def block_children(block: Block) -> list | None:
    """The nodes the block walks, from its run's version, whatever the draft became since;
    None if that version has no such node (never for a block the walk made)."""
    roots = version_nodes(block.run.version_id)
    if block.whole_tree:
        return roots
    node = subtree_find(roots, block.node_key) if block.node_key else None
    return node.child_nodes if node else None


def block_finish(block: Block, state: BlockState, error: str = "") -> None:
    """Move a block this worker holds to a final state; raise LeaseLost if it no longer holds it."""
    now = timezone.now()
    changed = Block.objects.filter(
        pk=block.pk, state=BlockState.RUNNING, attempts=block.attempts
    ).update(state=state, finished_at=now, lease_until=None, last_error=error, updated_at=now)
    if not changed:
        raise LeaseLost(block.pk)


def block_attempt_failed(
    block: Block, context: RunContext | None, error: str, *, final: bool = False
) -> BlockState | None:
    """After the attempt's rollback: keep its steps (none when it failed before its walk began),
    then schedule a retry or mark it failed (at once when the failure is `final`: another attempt
    could not succeed)."""
    steps = context.steps if context is not None else []
    for step in steps:
        step.pk = None
    try:
        with transaction.atomic():
            Step.objects.bulk_create(steps)
            run_changed(block.run)
            if block.attempts < block.max_attempts and not final:
                block_retry_later(block, error)
                return BlockState.PENDING
            block_finish(block, BlockState.FAILED, error)
            run_settle(block.run_id)
            alert_block_failed(block.pk)
            return BlockState.FAILED
    except LeaseLost:
        return None


def block_retry_later(block: Block, error: str) -> None:
    base = settings.EVENTTREE["RETRY_BASE_SECONDS"]
    now = timezone.now()
    due_at = now + timedelta(seconds=base * 2 ** (block.attempts - 1))
    changed = Block.objects.filter(
        pk=block.pk, state=BlockState.RUNNING, attempts=block.attempts
    ).update(state=BlockState.PENDING, due_at=due_at, lease_until=None, last_error=error,
             updated_at=now)
    if not changed:
        raise LeaseLost(block.pk)
    block.due_at = due_at
    dispatch.blocks_enqueue([block])
