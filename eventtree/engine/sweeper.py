"""The periodic sweeper (DESIGN §3.3): nothing is lost when a worker or the broker dies."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from eventtree.engine import dispatch
from eventtree.engine.blocks import run_settle
from eventtree.engine.outbox import outbox_pending_ids
from eventtree.models import Block, BlockState

logger = logging.getLogger(__name__)

# A pending block is only re-sent once its own wake-up had time to arrive.
PENDING_GRACE_SECONDS = 20


@dataclass
class SweepResult:
    woken: int = 0
    expired: int = 0
    failed: int = 0
    outbox: int = 0


def sweep() -> SweepResult:
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
                due_at=now,
                finished_at=now if exhausted else None,
                last_error="The worker running this block stopped before it finished.",
                updated_at=now,
            )
            if changed and exhausted:
                result.failed += 1
                run_settle(block.run_id)
            elif changed:
                result.expired += 1
                wakeups.append((block.pk, now))
    stale = list(
        Block.objects.filter(
            state=BlockState.PENDING, due_at__lte=now - timedelta(seconds=PENDING_GRACE_SECONDS)
        ).values_list("pk", "due_at")[:1000]
    )
    wakeups.extend(stale)
    dispatch.blocks_wake(wakeups)
    result.woken = len(wakeups)
    for message_id in outbox_pending_ids(older_than_seconds=PENDING_GRACE_SECONDS):
        dispatch.outbox_wake(message_id)
        result.outbox += 1
    if result.woken or result.failed:
        logger.info("Sweeper: %s", result)
    return result
