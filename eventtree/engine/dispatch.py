"""Handing work to django-q2: the only module that imports django_q.

Every hand-off happens on commit, so a rolled-back transaction hands over nothing. A hand-off is
only a wake-up: the worker re-checks the block's state, so a lost, late or repeated wake-up is
harmless. A pending block gets one wake-up, once it is due: from the commit that made it due, or
else from the timers (engine/timers.py) at its due time; the sweeper re-sends the lost ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Now
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.tasks import async_task

from eventtree.models import Block, BlockState, WokenBy

logger = logging.getLogger(__name__)

RUN_BLOCK = "eventtree.tasks.run_block"
DELIVER_OUTBOX = "eventtree.tasks.deliver_outbox"
SWEEP = "eventtree.tasks.sweep"
SWEEPER_NAME = "eventtree-sweeper"

# Blocks woken per transaction: a backlog of due blocks is handed over in batches this size.
WAKE_BATCH = 100
# A block due later than this (by this process's clock) is left to the timers without a look.
COMMIT_WAKE_AHEAD = timedelta(seconds=1)


def blocks_enqueue(blocks: Iterable[Block]) -> None:
    """Call inside the transaction that created or rescheduled the blocks.

    The blocks due by then are woken when it commits; the others by the timers, when they are due.
    """
    soon = timezone.now() + COMMIT_WAKE_AHEAD
    block_ids = [block.pk for block in blocks if block.due_at <= soon]
    if block_ids:
        transaction.on_commit(
            lambda: blocks_wake(Block.objects.filter(pk__in=block_ids, woken_at__isnull=True),
                                woken_by=WokenBy.COMMIT),
            robust=True,
        )


def blocks_wake(candidates: QuerySet[Block], *, woken_by: WokenBy, limit: int | None = None) -> list[int]:
    """Send a task for each block of `candidates` that is pending and due, at most `limit`
    (default `WAKE_BATCH`): of blocks never woken the earliest due first, of blocks woken before
    the oldest wake-up first. Mark each woken (`woken_at`, `woken_by`). Returns the ids woken.

    The blocks are taken and marked in one transaction that skips rows another caller holds
    (`SKIP LOCKED` on PostgreSQL; on SQLite write transactions are serialised), so callers at
    the same moment (timer loops on several machines, the sweeper, a commit) never wake one block
    twice, as long as what selects `candidates` no longer holds for a block once it is marked (no
    wake-up yet, or one older than some moment). "Due" is decided by the database's clock, as the
    worker's claim decides it. With the ORM broker the task rows are written in the same
    transaction as the marks. If the broker refuses a task, the blocks not sent yet stay unwoken,
    for the timers' next look.
    """
    sent: list[int] = []
    with transaction.atomic():
        block_ids = list(
            candidates.filter(state=BlockState.PENDING, due_at__lte=Now())
            .select_for_update(skip_locked=True)
            # The index's order: the earliest due first among blocks without a wake-up, the
            # oldest wake-up first among woken ones (see timers.next_due_query).
            .order_by("state", "woken_at", "due_at")
            .values_list("pk", flat=True)[:limit or WAKE_BATCH]
        )
        broker = get_broker() if block_ids else None  # one connection for the whole batch
        for block_id in block_ids:
            try:
                async_task(RUN_BLOCK, block_id, task_name=f"block-{block_id}", group="blocks",
                           broker=broker)
            except Exception:
                logger.exception("Could not hand block %s to the task queue", block_id)
                break
            sent.append(block_id)
        if sent:
            Block.objects.filter(pk__in=sent).update(woken_at=Now(), woken_by=woken_by)
    return sent


def queue_size() -> int:
    """How many tasks wait in the broker, not yet taken by a cluster (or given back by one that
    died). Whatever else is queued counts too: it is an upper bound of the wake-ups waiting."""
    return get_broker().queue_size()


def outbox_enqueue(message_id: int) -> None:
    """Call inside the transaction that wrote the outbox message."""
    transaction.on_commit(lambda: outbox_wake(message_id), robust=True)


def outbox_wake(message_id: int) -> None:
    try:
        async_task(DELIVER_OUTBOX, message_id, task_name=f"outbox-{message_id}", group="outbox")
    except Exception:
        logger.exception("Could not hand outbox message %s to the task queue", message_id)


def sweeper_ensure() -> None:
    """Create or update the periodic schedule of the sweeper (DESIGN §3.3)."""
    Schedule.objects.update_or_create(
        name=SWEEPER_NAME,
        defaults={
            "func": SWEEP,
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.EVENTTREE["SWEEP_MINUTES"],
            "repeats": -1,
        },
    )
