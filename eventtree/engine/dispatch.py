"""Handing work to django-q2: the only module that imports django_q.

Every hand-off is part of its transaction's commit, so a rolled-back transaction hands over
nothing: with the ORM broker the task row is written in that transaction, with another broker the
task is sent once it commits. A hand-off is only a wake-up: the worker re-checks the block's state, so a lost, late or repeated wake-up is
harmless. A pending block gets one wake-up, once it is due: from the commit that made it due, or
else from the timers (engine/timers.py) at its due time; the sweeper re-sends the lost ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import QuerySet
from django.db.models.functions import Now
from django.db.models.sql import UpdateQuery
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.tasks import async_task

from eventtree.engine.cron import cron_times, tree_is_scheduled
from eventtree.models import Block, BlockState, ChunkState, Event, EventTree, ImportChunk, WokenBy

logger = logging.getLogger(__name__)

RUN_BLOCK = "eventtree.tasks.run_block"
DELIVER_OUTBOX = "eventtree.tasks.deliver_outbox"
SWEEP = "eventtree.tasks.sweep"
SWEEPER_NAME = "eventtree-sweeper"
ALERT_DIGEST = "eventtree.tasks.alert_digest"
SCHEDULED_TICK = "eventtree.tasks.scheduled_tick"
RUN_IMPORT_CHUNK = "eventtree.tasks.run_import_chunk"

# Blocks woken per transaction: a backlog of due blocks is handed over in batches this size.
WAKE_BATCH = 100
# A block due later than this (by this process's clock) is left to the timers without a look.
COMMIT_WAKE_AHEAD = timedelta(seconds=1)


def blocks_enqueue(blocks: Iterable[Block]) -> None:
    """Call inside the transaction that created or rescheduled the blocks.

    The blocks due by then are woken with it: with the ORM broker their tasks are written in that
    same transaction (one commit for a block and its wake-up, which then cannot be lost between
    the two), with another broker as soon as it commits. The other blocks by the timers, when
    they are due.
    """
    soon = timezone.now() + COMMIT_WAKE_AHEAD
    block_ids = [block.pk for block in blocks if block.due_at <= soon]
    if not block_ids:
        return
    if broker_in_database() and transaction.get_connection().in_atomic_block:
        blocks_wake_made(block_ids)
    else:
        transaction.on_commit(lambda: blocks_wake_committed(block_ids), robust=True)


def broker_in_database() -> bool:
    """Whether the task queue is a table of the default database (django-q2's ORM broker)."""
    return settings.Q_CLUSTER.get("orm") == DEFAULT_DB_ALIAS


def blocks_wake_committed(block_ids: list[int]) -> None:
    """`blocks_wake_made` in a transaction of its own, after the commit that made the blocks.
    Nothing is marked if the broker refuses a task (the timers' next look wakes them); a block
    sent before the refusal may get a second wake-up, which is harmless."""
    try:
        with transaction.atomic():
            blocks_wake_made(block_ids)
    except Exception:
        logger.exception("Could not hand blocks %s to the task queue; the timers will", block_ids)


def blocks_wake_made(block_ids: list[int]) -> None:
    """Wake the blocks among `block_ids` that are pending, due and not woken yet, in two
    statements: one conditional UPDATE marks them (`woken_by = 'commit'`) and returns which it
    marked, then their tasks. Call inside `atomic`.

    The mark is the claim of the wake-up: a timer loop or the sweeper selecting the same blocks
    at the same moment skips them (locked, then woken), so no block is woken twice by them.
    """
    marked = Block.objects.filter(
        pk__in=block_ids, state=BlockState.PENDING, woken_at__isnull=True, due_at__lte=Now()
    )
    woken = update_returning_ids(marked, woken_at=Now(), woken_by=WokenBy.COMMIT)
    broker = get_broker() if woken else None  # one connection for them all
    for block_id in woken:
        async_task(RUN_BLOCK, block_id, task_name=f"block-{block_id}", group="blocks", broker=broker)


def update_returning_ids(queryset: QuerySet, **values) -> list[int]:
    """`queryset.update(**values)`, returning the primary keys of the rows it changed (one
    statement, `UPDATE … RETURNING`, on SQLite ≥ 3.35 and PostgreSQL)."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    connection = connections[queryset.db]
    sql, params = query.get_compiler(connection=connection).as_sql()
    pk = connection.ops.quote_name(queryset.model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {pk}", params)
        return [row[0] for row in cursor.fetchall()]


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
    with transaction.atomic():
        block_ids = list(
            candidates.filter(state=BlockState.PENDING, due_at__lte=Now())
            .select_for_update(skip_locked=True)
            # The index's order: the earliest due first among blocks without a wake-up, the
            # oldest wake-up first among woken ones (see timers.next_due_query).
            .order_by("state", "woken_at", "due_at")
            .values_list("pk", flat=True)[:limit or WAKE_BATCH]
        )
        sent = tasks_send(RUN_BLOCK, block_ids, name="block", group="blocks")
        if sent:
            Block.objects.filter(pk__in=sent).update(woken_at=Now(), woken_by=woken_by)
    return sent


def tasks_send(func: str, ids: list[int], *, name: str, group: str) -> list[int]:
    """A task `func(id)` for each of `ids`, in order, through one broker connection; the first
    the broker refuses is logged and ends the batch. Returns the ids sent."""
    sent: list[int] = []
    broker = get_broker() if ids else None
    for id_ in ids:
        try:
            async_task(func, id_, task_name=f"{name}-{id_}", group=group, broker=broker)
        except Exception:
            logger.exception("Could not hand %s %s to the task queue", name, id_)
            break
        sent.append(id_)
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


def import_chunks_enqueue(import_id: int, *, limit: int) -> None:
    """Call inside the transaction that made chunks of the import ready to run (wrote them, or
    finished or gave back one): once it commits, the next `limit` of its chunks not handed over
    yet are, in the file's order."""
    transaction.on_commit(lambda: import_chunks_wake_next(import_id, limit=limit), robust=True)


def import_chunks_wake_next(import_id: int, *, limit: int) -> list[int]:
    waiting = ImportChunk.objects.filter(bulk_import_id=import_id, state=ChunkState.PENDING, woken_at__isnull=True)
    try:
        return import_chunks_wake(waiting, limit=limit)
    except Exception:
        logger.exception("Could not hand chunks of import %s to the task queue; the sweeper will", import_id)
        return []


def import_chunks_wake(candidates: QuerySet[ImportChunk], *, limit: int) -> list[int]:
    """Send a task for each of the first `limit` unfinished chunks of `candidates` (in the file's
    order) and mark them woken (`woken_at`), in one transaction that skips the chunks another
    caller or a running chunk holds. A chunk woken twice is harmless: its claim decides. If the
    broker refuses a task, the chunks not sent yet stay as they were, for the sweeper."""
    with transaction.atomic():
        chunk_ids = list(
            candidates.filter(state__in=ChunkState.unfinished())
            .select_for_update(skip_locked=True)
            .order_by("number")
            .values_list("pk", flat=True)[:limit]
        )
        sent = tasks_send(RUN_IMPORT_CHUNK, chunk_ids, name="import-chunk", group="imports")
        if sent:
            ImportChunk.objects.filter(pk__in=sent).update(woken_at=Now())
    return sent


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


def alert_digest_schedule(*, tree_id: int, at: datetime) -> None:
    """Wake the tree's failure-alert digest at `at` (engine/alerts.py), replacing an earlier
    wake-up of it. Call inside the transaction that gathered a failure for it: the wake-up is a
    schedule row of this database, written (or rolled back) with it, and django-q2's scheduler
    hands it to a worker within about 30 s of `at`."""
    Schedule.objects.update_or_create(
        name=f"eventtree-alert-digest-{tree_id}",
        defaults={"func": ALERT_DIGEST, "args": repr(tree_id), "schedule_type": Schedule.ONCE,
                  "next_run": at, "repeats": -1},
    )


TREE_SCHEDULE_PREFIX = "eventtree-scheduled-"


def tree_schedule_name(tree_id: int) -> str:
    return f"{TREE_SCHEDULE_PREFIX}{tree_id}"


def tree_schedule_sync(tree_id: int) -> None:
    """Make the django-q2 cron schedule of a tree match the tree as stored (DESIGN §3.8): one
    schedule, firing `tasks.scheduled_tick` on its cron in the project's time zone, while the tree
    is active, published, of event `scheduled` and with a valid cron expression; none otherwise
    (deactivated, deleted, another event). Call once the change has committed: a schedule made
    for a change rolled back would fire for nothing. Repeating the call changes nothing.

    django-q2 passes each task the fire time it was due at (`tick`), which names its tick however
    late the task runs.
    """
    name = tree_schedule_name(tree_id)
    tree = EventTree.objects.filter(pk=tree_id).only("active", "event", "cron", "published_id").first()
    if tree is None or not tree_is_scheduled(tree):
        Schedule.objects.filter(name=name).delete()
        return
    cron = tree.cron.strip()
    schedules = list(Schedule.objects.filter(name=name).order_by("pk"))
    schedule = schedules[0] if schedules else Schedule(name=name)
    if len(schedules) > 1:  # two first syncs at once: one schedule must stay, or each tick runs twice
        Schedule.objects.filter(pk__in=[item.pk for item in schedules[1:]]).delete()
    if schedule.pk and schedule.cron == cron and schedule.func == SCHEDULED_TICK:
        return
    schedule.func, schedule.args, schedule.cron = SCHEDULED_TICK, repr(tree_id), cron
    schedule.schedule_type, schedule.repeats, schedule.intended_date_kwarg = Schedule.CRON, -1, "tick"
    schedule.next_run = cron_times(cron, count=1)[0]
    schedule.save()


def tree_schedules_sync() -> None:
    """`tree_schedule_sync` for every scheduled tree and every schedule of a tree (after a
    migration: trees saved by an older release, schedules of trees since deleted)."""
    scheduled = set(EventTree.objects.filter(event=Event.SCHEDULED).values_list("pk", flat=True))
    names = Schedule.objects.filter(name__startswith=TREE_SCHEDULE_PREFIX).values_list("name", flat=True)
    ids = {name.removeprefix(TREE_SCHEDULE_PREFIX) for name in names}
    for tree_id in scheduled | {int(item) for item in ids if item.isdigit()}:
        tree_schedule_sync(tree_id)
