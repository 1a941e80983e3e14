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

    One conditional UPDATE decides it. Two blocks of a run may finish at the same moment in two
    transactions, each seeing the other unfinished: on PostgreSQL the run's row is locked first, so
    that the second waits for the first to commit and its UPDATE, a new statement, then sees the
    first's block finished. SQLite runs one write transaction at a time: no lock is needed there.
    """
    if connection.vendor != "sqlite":
        list(Run.objects.select_for_update().filter(pk=run_id).values_list("pk"))
    unfinished = Block.objects.filter(run=OuterRef("pk")).exclude(state__in=BlockState.finished())
    failed = Block.objects.filter(run=OuterRef("pk"), state=BlockState.FAILED)
    Run.objects.filter(pk=run_id, status=RunStatus.RUNNING).exclude(Exists(unfinished)).update(
        status=Case(When(Exists(failed), then=Value(RunStatus.FAILED)), default=Value(RunStatus.DONE)),
        finished_at=timezone.now(),
    )
