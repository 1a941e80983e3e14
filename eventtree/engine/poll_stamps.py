"""What a post-submission poll compares (DESIGN §3.5): a stamp of everything the status shows.

The stamp of a submission is read by one query (counts and sums over its runs' blocks, flags and
progress items, which change whenever what a poll shows changes) and kept in the cache until a
write that changes the status forgets it on commit (`submission_stamp_forget`): while nothing
changes, a poll is answered 304 without touching a table.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, IntegerField, Max, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, Now

from eventtree.engine.caching import cache_add, cache_forget, forgotten
from eventtree.engine.form_cache import form_changed_key
from eventtree.models import Block, BlockState, Flag, Progress, Run, Submission

logger = logging.getLogger(__name__)

# A stamp is forgotten when the status changes; the timeout bounds how stale it can be when that
# forgetting failed (the cache server was down during the write).
STAMP_TIMEOUT = 60


def stamp_key(token: str) -> str:
    return f"eventtree:poll-stamp:v2:{token}"


def submission_stamp(*, slug: str, token: str) -> tuple[str, datetime, tuple[datetime, ...]] | None:
    """The stamp of the submission with this token and form slug, when its form last changed (a
    stamp is not forgotten when a form changes: the two go together into an ETag), and the
    earliest and latest due times of its blocks waiting for a moment still ahead (none, one or
    two: the page says how long they wait, which changes with time alone); None if there is no
    such submission. No query when the cache holds both (one round trip to the cache), one when
    it does not."""
    key, changed_key = stamp_key(token), form_changed_key(slug)
    try:
        cached = cache.get_many([key, changed_key])
    except Exception:
        logger.warning("Cache unavailable; reading the poll stamp from the database", exc_info=True)
        cached, key = {}, None
    stamp, form_changed = cached.get(key), cached.get(changed_key)
    if stamp is not None and not forgotten(stamp) and stamp[0] == slug and \
            form_changed is not None and not forgotten(form_changed):
        return stamp[1], form_changed, stamp[2]
    row = stamp_read(slug=slug, token=token)
    if row is None:
        return None
    stamp, form_changed, waiting = row
    if key is not None:
        cache_add({key: (slug, stamp, waiting), changed_key: form_changed}, timeout=STAMP_TIMEOUT,
                  what="a poll stamp")
    return stamp, form_changed, waiting


def stamp_read(*, slug: str, token: str) -> tuple[str, datetime, tuple[datetime, ...]] | None:
    """The submission's stamp, its form's last change and its waiting blocks' earliest and
    latest due times (see `submission_stamp`), from the database: one query."""
    blocks = Block.objects.filter(run__submission=OuterRef("pk")).values("run__submission")
    flags = Flag.objects.filter(run__submission=OuterRef("pk")).values("run__submission")
    progress = Progress.objects.filter(run__submission=OuterRef("pk")).values("run__submission")
    waiting = blocks.filter(state=BlockState.PENDING, due_at__gt=Now())

    def aggregate(queryset, expression):
        return Coalesce(Subquery(queryset.annotate(value=expression).values("value")[:1]), 0,
                        output_field=IntegerField())

    row = (
        Submission.objects.filter(token=token, form__slug=slug)
        .annotate(
            blocks=aggregate(blocks, Count("pk")),
            attempts=aggregate(blocks, Sum("attempts")),
            done=aggregate(blocks, Count("pk", filter=Q(state=BlockState.DONE))),
            failed=aggregate(blocks, Count("pk", filter=Q(state=BlockState.FAILED))),
            cancelled=aggregate(blocks, Count("pk", filter=Q(state=BlockState.CANCELLED))),
            running=aggregate(blocks, Count("pk", filter=Q(state=BlockState.RUNNING))),
            flags=aggregate(flags, Count("pk")),
            flags_set=aggregate(flags, Count("pk", filter=Q(value=True))),
            progress_items=aggregate(progress, Count("pk")),
            progress_done=aggregate(progress, Sum("done")),
            progress_total=aggregate(progress, Sum("total")),
            # A progress message may change alone.
            progress_at=Subquery(progress.annotate(value=Max("updated_at")).values("value")[:1]),
            waiting_first=Subquery(waiting.annotate(value=Min("due_at")).values("value")[:1]),
            waiting_last=Subquery(waiting.annotate(value=Max("due_at")).values("value")[:1]),
        )
        .values_list("form__updated_at", "waiting_first", "waiting_last", "record__updated_at", "blocks", "attempts", "done", "failed", "cancelled", "running",
                     "flags", "flags_set", "progress_items", "progress_done", "progress_total", "progress_at")
        .first()
    )
    if row is None:
        return None
    waiting = tuple(sorted({due_at for due_at in row[1:3] if due_at is not None}))
    return hashlib.sha256(repr(row[3:]).encode()).hexdigest()[:24], row[0], waiting


def run_changed(run: Run) -> None:
    """Call inside the transaction of a write to a run that changes what its submission's poll
    shows: `submission_stamp_forget` of the run's submission, if a visitor follows it."""
    if run.submission_id:
        submission_stamp_forget(run.submission.token)


def submission_stamp_forget(token: str | None) -> None:
    """Call inside the transaction of a write that changes what a poll shows (a block's state or
    attempts, a flag, a progress item): the stamp is forgotten once it commits."""
    if not token:
        return

    transaction.on_commit(lambda: cache_forget([stamp_key(token)], what="a poll stamp"), robust=True)
