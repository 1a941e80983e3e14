"""The periodic sweeper (DESIGN §3.3): nothing is lost when a worker or the broker dies."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone

from eventtree.engine import dispatch
from eventtree.engine.alerts import alert_block_failed
from eventtree.engine.imports import import_chunks_resend, imports_abandoned_fail
from eventtree.engine.poll_stamps import run_changed
from eventtree.engine.runs import run_settle
from eventtree.engine.outbox import outbox_pending_ids
from eventtree.models import Block, BlockState, WokenBy, due_now

logger = logging.getLogger(__name__)

# A pending block that was never woken (no timer loop runs, or the broker was down) is woken by
# the sweeper once it is this late.
PENDING_GRACE_SECONDS = 20
# The most blocks a sweep wakes of each kind (never woken, wake-up lost); the next sweep goes on.
SWEEP_LIMIT = 1000


@dataclass
class SweepResult:
    woken: int = 0
    expired: int = 0
    failed: int = 0
    outbox: int = 0
    chunks: int = 0  # chunks of CSV imports handed over again
    imports_given_up: int = 0  # CSV imports whose file was never read to its end


def sweep() -> SweepResult:
    """Put blocks of dead workers back, and re-send the wake-ups that were never sent or are lost.

    A block never woken is the timers' (engine/timers.py): the sweeper wakes it only once it is
    `PENDING_GRACE_SECONDS` overdue, when no timer loop runs or the broker refused it. A wake-up
    handed to the broker is presumed lost only when it is older than `WAKE_LOST_SECONDS` (the
    broker's own re-delivery time) and the broker does not hold that many tasks: a broker queue is
    first in, first out, so the Q tasks it holds are at most the Q most recent of these wake-ups,
    and only the older ones can be lost. Under a backlog, a block whose wake-up is still queued is
    not woken again.
    """
    result = SweepResult()
    now = timezone.now()
    expired = []
    for block in Block.objects.filter(state=BlockState.RUNNING, lease_until__lt=now).select_related(
        "run__submission"
    ).only("pk", "attempts", "max_attempts", "run_id", "run__submission_id", "run__submission__token"):
        with transaction.atomic():
            exhausted = block.attempts >= block.max_attempts
            changed = Block.objects.filter(
                pk=block.pk, state=BlockState.RUNNING, attempts=block.attempts, lease_until__lt=now
            ).update(
                state=BlockState.FAILED if exhausted else BlockState.PENDING,
                lease_until=None,
                woken_at=None,
                due_at=due_now(),
                finished_at=now if exhausted else None,
                last_error="The worker running this block stopped before it finished.",
                updated_at=now,
            )
            if changed:
                run_changed(block.run)  # what its submission's page shows has changed
            if changed and exhausted:
                result.failed += 1
                run_settle(block.run_id)
                alert_block_failed(block.pk)
            elif changed:
                result.expired += 1
                expired.append(block.pk)
    unwoken = Block.objects.filter(woken_at__isnull=True)
    overdue = Now() - timedelta(seconds=PENDING_GRACE_SECONDS)
    woken = dispatch.blocks_wake(unwoken.filter(pk__in=expired), woken_by=WokenBy.SWEEPER,
                                 limit=len(expired)) if expired else []
    woken += dispatch.blocks_wake(unwoken.filter(due_at__lte=overdue), woken_by=WokenBy.SWEEPER,
                                  limit=SWEEP_LIMIT)
    woken += wake_lost_resend()
    result.woken = len(woken)
    for message_id in outbox_pending_ids(older_than_seconds=PENDING_GRACE_SECONDS):
        dispatch.outbox_wake(message_id)
        result.outbox += 1
    result.chunks = import_chunks_resend()
    result.imports_given_up = imports_abandoned_fail()
    if result.woken or result.failed or result.chunks or result.imports_given_up:
        logger.info("Sweeper: %s", result)
    return result


def wake_lost_resend() -> list[int]:
    """Re-send the wake-ups presumed lost (see `sweep`), the oldest first."""
    lost_before = Now() - timedelta(seconds=settings.EVENTTREE["WAKE_LOST_SECONDS"])
    stale = Block.objects.filter(state=BlockState.PENDING, woken_at__lte=lost_before)
    count = stale.count()
    if not count:
        return []
    lost = min(count - dispatch.queue_size(), SWEEP_LIMIT)
    if lost <= 0:
        return []
    return dispatch.blocks_wake(stale, woken_by=WokenBy.SWEEPER, limit=lost)
