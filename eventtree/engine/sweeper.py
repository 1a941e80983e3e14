"""The periodic sweeper (DESIGN §3.3): nothing is lost when a worker or the broker dies."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from eventtree.engine import dispatch
from eventtree.engine.runs import run_settle
from eventtree.engine.outbox import outbox_pending_ids
from eventtree.models import Block, BlockState, due_now

logger = logging.getLogger(__name__)

# A pending block that was never woken (the broker was down) is re-sent once it is this late.
PENDING_GRACE_SECONDS = 20


@dataclass
class SweepResult:
    woken: int = 0
    expired: int = 0
    failed: int = 0
    outbox: int = 0


def sweep() -> SweepResult:
    """Put blocks of dead workers back, and re-send the wake-ups that can be presumed lost.

    A wake-up that was handed to the broker is presumed lost only when neither it nor the due
    time is more recent than `WAKE_LOST_SECONDS` (the broker's own re-delivery time): under a
    backlog, a block still queued is not woken again every minute.
    """
    result = SweepResult()
    now = timezone.now()
    wakeups = []
    for block in Block.objects.filter(state=BlockState.RUNNING, lease_until__lt=now).only(
        "pk", "attempts", "max_attempts", "run_id"
    ):
        with transaction.atomic():
            exhausted = block.attempts >= block.max_attempts
            changed = Block.objects.filter(
                pk=block.pk, state=BlockState.RUNNING, attempts=block.attempts, lease_until__lt=now
            ).update(
                state=BlockState.FAILED if exhausted else BlockState.PENDING,
                lease_until=None,
                due_at=due_now(),
                finished_at=now if exhausted else None,
                last_error="The worker running this block stopped before it finished.",
                updated_at=now,
            )
            if changed and exhausted:
                result.failed += 1
                run_settle(block.run_id)
            elif changed:
                result.expired += 1
                wakeups.append(block.pk)
    lost_before = Now() - timedelta(seconds=settings.EVENTTREE["WAKE_LOST_SECONDS"])
    never_woken = Q(woken_at__isnull=True, due_at__lte=Now() - timedelta(seconds=PENDING_GRACE_SECONDS))
    wake_lost = Q(woken_at__lte=lost_before, due_at__lte=lost_before)
    stale = Block.objects.filter(never_woken | wake_lost, state=BlockState.PENDING)
    wakeups.extend(stale.order_by("due_at").values_list("pk", flat=True)[:1000])
    result.woken = len(dispatch.blocks_wake(wakeups))
    for message_id in outbox_pending_ids(older_than_seconds=PENDING_GRACE_SECONDS):
        dispatch.outbox_wake(message_id)
        result.outbox += 1
    if result.woken or result.failed:
        logger.info("Sweeper: %s", result)
    return result
