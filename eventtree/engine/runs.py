"""The end of a run: decided here, whoever finished the last block (or the walk that made none)."""

from __future__ import annotations

from django.db import connection
from django.db.models import Case, Exists, OuterRef, Value, When
from django.utils import timezone

from eventtree.models import Block, BlockState, Run, RunStatus


def run_finish_now(run: Run) -> None:
    """Mark a run done straight after its synchronous walk made no block to wait for: nothing
    else can have finished it or be running for it yet, so no block needs looking at."""
    run.status, run.finished_at = RunStatus.DONE, timezone.now()
    Run.objects.filter(pk=run.pk).update(status=run.status, finished_at=run.finished_at)


def run_settle(run_id: int) -> None:
    """Mark the run finished if every block is. Call inside `atomic`, after the block's update.

    Two blocks of a run may finish at the same moment in two transactions, each seeing the
    other unfinished: the run's row is locked first, so that the second looks again once the
    first has committed. SQLite runs one write transaction at a time, so there one conditional
    UPDATE decides it.
    """
    if connection.vendor == "sqlite":
        unfinished = Block.objects.filter(run=OuterRef("pk")).exclude(state__in=BlockState.finished())
        failed = Block.objects.filter(run=OuterRef("pk"), state=BlockState.FAILED)
        Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).exclude(Exists(unfinished)).update(
            status=Case(When(Exists(failed), then=Value(RunStatus.FAILED)), default=Value(RunStatus.DONE)),
            finished_at=timezone.now(),
        )
        return
    run = Run.objects.select_for_update().get(pk=run_id)
    if run.status != RunStatus.RUNNING:
        return
    states = set(run.blocks.values_list("state", flat=True))
    if not states.issubset(BlockState.finished()):
        return
    run.status = RunStatus.FAILED if BlockState.FAILED in states else RunStatus.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at"])
