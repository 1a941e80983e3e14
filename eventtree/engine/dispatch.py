"""Handing work to django-q2: the only module that imports django_q.

Every hand-off happens on commit, so a rolled-back transaction hands over nothing. A hand-off is
only a wake-up: the worker re-checks the block's state, so a lost, late or repeated wake-up is
harmless, and the sweeper re-sends the ones that were lost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, Case, When
from django.db.models.functions import Now
from django_q.models import Schedule
from django_q.tasks import async_task

from eventtree.models import Block, BlockState

logger = logging.getLogger(__name__)

RUN_BLOCK = "eventtree.tasks.run_block"
DELIVER_OUTBOX = "eventtree.tasks.deliver_outbox"
SWEEP = "eventtree.tasks.sweep"
SWEEPER_NAME = "eventtree-sweeper"


def blocks_enqueue(blocks: Iterable[Block]) -> None:
    """Call inside the transaction that created or rescheduled the blocks."""
    block_ids = [block.pk for block in blocks]
    if block_ids:
        transaction.on_commit(lambda: blocks_wake(block_ids), robust=True)


def blocks_wake(block_ids: Iterable[int]) -> list[int]:
    """Send one wake-up per pending block: a task if it is due, else a one-off schedule at its
    due time. "Due" is decided by the database's clock, as the worker's claim decides it, so a
    task is never sent for a block that its worker would still find early. Returns the ids woken.
    """
    pending = (
        Block.objects.filter(pk__in=list(block_ids), state=BlockState.PENDING)
        .annotate(due=Case(When(due_at__lte=Now(), then=True), default=False, output_field=BooleanField()))
        .values_list("pk", "due_at", "due")
    )
    woken = []
    for block_id, due_at, due in pending:
        try:
            if due:
                async_task(RUN_BLOCK, block_id, task_name=f"block-{block_id}", group="blocks")
            else:
                Schedule.objects.create(
                    func=RUN_BLOCK,
                    args=repr(block_id),
                    schedule_type=Schedule.ONCE,
                    repeats=-1,
                    next_run=due_at,
                )
        except Exception:
            # The block stays pending; the sweeper wakes it once the broker is back.
            logger.exception("Could not hand block %s to the task queue", block_id)
        else:
            woken.append(block_id)
    if woken:
        Block.objects.filter(pk__in=woken).update(woken_at=Now())
    return woken


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
