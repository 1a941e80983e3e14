"""Staff operations on runs (DESIGN §3.9)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from eventtree.engine import dispatch
from eventtree.engine.poll_stamps import run_changed
from eventtree.engine.runs import run_settle
from eventtree.models import Block, BlockState, Run, RunStatus, due_now


class BlockStateError(Exception):
    pass


def block_cancel(*, block_id: int) -> Block:
    """Cancel a pending block (due now or later); its children never run."""
    with transaction.atomic():
        now = timezone.now()
        changed = Block.objects.filter(pk=block_id, state=BlockState.PENDING).update(
            state=BlockState.CANCELLED, finished_at=now, updated_at=now
        )
        block = Block.objects.select_related("run__submission").get(pk=block_id)
        if not changed:
            raise BlockStateError(f"Only a pending block can be cancelled; this one is {block.state}.")
        run_settle(block.run_id)
        run_changed(block.run)
    return block


def block_retry(*, block_id: int) -> Block:
    """Give a failed block one more attempt, now."""
    with transaction.atomic():
        block = Block.objects.select_for_update(of=("self",)).select_related("run__submission").get(pk=block_id)
        if block.state != BlockState.FAILED:
            raise BlockStateError(f"Only a failed block can be retried; this one is {block.state}.")
        block.state = BlockState.PENDING
        block.due_at = due_now()
        block.finished_at = None
        block.max_attempts = block.attempts + 1
        block.save(update_fields=["state", "due_at", "finished_at", "max_attempts", "updated_at"])
        Run.objects.filter(pk=block.run_id).update(status=RunStatus.RUNNING, finished_at=None)
        run_changed(block.run)
        dispatch.blocks_enqueue([block])
    return block
