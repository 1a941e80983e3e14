"""Timers (DESIGN §3.12): each pending block is woken at its due time, within about a second.

django-q2 has no ETA for a task, and its scheduler looks for due schedules only every 30 s. So a
loop of our own looks at the blocks: a pending block without a wake-up (`woken_at` is None: a
Delay, a retry's backoff, a wake-up its commit could not send) is handed to django-q2 as soon as
the database's clock reaches its `due_at`.

Cost: one look is one query on the index (state, woken_at, due_at), which gives the earliest due
time and the database's clock. Until that time the loop sleeps, but never longer than
`TIMER_MAX_SLEEP_SECONDS` (1 s): a block made in between by another process waits at most that
long, and an idle system costs one query a second. Waking goes through dispatch.blocks_wake, which
takes the due blocks in a transaction that skips rows another loop holds: any number of loops (one
per machine) wake each block once. A loop that is down loses nothing: the sweeper wakes what it
left, later.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import QuerySet
from django.db.models.functions import Now

from eventtree.engine import dispatch
from eventtree.models import Block, BlockState, WokenBy

logger = logging.getLogger(__name__)

# SQLite's clock reads milliseconds, due times hold microseconds: waking up this much after the
# due time saves a look that would find the block due a fraction of a millisecond later.
CLOCK_STEP_SECONDS = 0.002


def waiting_blocks() -> QuerySet[Block]:
    """Pending blocks that no wake-up was sent for (the claim uses a wake-up up)."""
    return Block.objects.filter(state=BlockState.PENDING, woken_at__isnull=True)


def timers_next_due() -> tuple[datetime, datetime] | None:
    """The earliest due time of a block waiting for a wake-up, with the database's clock; None
    when no block waits. One query, which reads one index entry."""
    return next_due_query().first()


def next_due_query() -> QuerySet[Block]:
    # Ordered as the index is: state and woken_at are the same in every row, so this is the
    # order of due_at, but PostgreSQL sorts every waiting block for `ORDER BY due_at` alone
    # (it does not take `woken_at IS NULL` as fixing that column), where it reads one entry.
    return (
        waiting_blocks().order_by("state", "woken_at", "due_at").annotate(clock=Now())
        .values_list("due_at", "clock")
    )


def timers_tick(*, max_sleep: float) -> float:
    """Wake the blocks that are due; return the seconds to sleep before the next look.

    Zero after waking some (more may be due); `max_sleep` when nothing waits, or when due blocks
    could not be woken (another loop holds them, or the broker refused them: try again later).
    """
    next_due = timers_next_due()
    if next_due is None:
        return max_sleep
    due_at, clock = next_due
    wait = (due_at - clock).total_seconds()
    if wait > 0:
        return min(max_sleep, wait + CLOCK_STEP_SECONDS)
    woken = dispatch.blocks_wake(waiting_blocks(), woken_by=WokenBy.TIMER)
    return 0.0 if woken else max_sleep


def timers_run(*, stop: threading.Event, max_sleep: float | None = None) -> None:
    """Look for due blocks until `stop` is set (from another thread or a signal handler).

    A failed look (the database restarting) is logged, its connection dropped, and the loop goes
    on after a pause, so a passing outage does not end it.
    """
    if max_sleep is None:
        max_sleep = settings.EVENTTREE["TIMER_MAX_SLEEP_SECONDS"]
    try:
        while not stop.is_set():
            try:
                pause = timers_tick(max_sleep=max_sleep)
            except Exception:
                logger.exception("Timers: could not wake the due blocks; trying again")
                close_old_connections()
                pause = max_sleep
            if pause > 0:
                stop.wait(pause)
    finally:
        connection.close()
