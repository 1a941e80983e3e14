"""The end of a run: decided in one place, whoever finished the last block."""

from __future__ import annotations

from django.utils import timezone

from eventtree.models import BlockState, Run, RunStatus


def run_settle(run_id: int) -> None:
    """Mark the run finished if every block is. Call inside `atomic`, after the block's update."""
    run = Run.objects.select_for_update().get(pk=run_id)
    if run.status != RunStatus.RUNNING:
        return
    states = set(run.blocks.values_list("state", flat=True))
    if not states.issubset(BlockState.finished()):
        return
    run.status = RunStatus.FAILED if BlockState.FAILED in states else RunStatus.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "finished_at"])
