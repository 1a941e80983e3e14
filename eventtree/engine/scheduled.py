"""Scheduled trees (DESIGN §3.8): at each cron tick a tree runs its published version once for
every record of its form that matches its filter, each record once per tick."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from eventtree.engine import dispatch
from eventtree.engine.conditions import condition_holds
from eventtree.engine.cron import cron_tick_at, tree_is_scheduled
from eventtree.engine.events import ActiveTree, runnable_trees, tree_run_start
from eventtree.engine.form_cache import form_cached
from eventtree.engine.poll_stamps import submission_stamp_forget
from eventtree.engine.walker import NodeFailure
from eventtree.models import Event, EventTree, Form, Phase, Record, Run, Submission

logger = logging.getLogger(__name__)

# Records read, locked and run in one transaction: a large form's tick is many short
# transactions, not one long one holding its records (and, on SQLite, every writer) for minutes.
SCHEDULED_BATCH = 100


def scheduled_tick_run(tree_id: int, *, at: datetime | str | None = None) -> int:
    """Run the tree for the tick `at` belongs to (the latest time its cron fires at or before
    `at`; default: now): a run of its published version, event `scheduled`, for each record of
    its form that matches its filter (every record without one) and has no run of this tree for
    that tick yet. Returns how many runs it started.

    Safe to repeat: a tick retried, or run by two clusters at once, runs each record once (a
    run's tree, tick and record are unique; the loser of a race skips the record). The records
    are taken in id order, `SCHEDULED_BATCH` at a time, each batch in a transaction of its own
    with its records locked, so a crash loses at most the batch under way, which the tick's
    retry does again. A tree that is no longer scheduled (deleted, inactive, another event, never
    published, no valid cron) runs nothing and its django-q2 schedule is removed.
    """
    # The schedule follows its tree at every tick too, should a sync after a change have failed.
    dispatch.tree_schedule_sync(tree_id)
    tree = EventTree.objects.filter(pk=tree_id).first()
    if tree is None or not tree_is_scheduled(tree):
        return 0
    live = next((item for item in runnable_trees(tree.form_id, Event.SCHEDULED) if item.id == tree.pk), None)
    if live is None:
        return 0  # its live version no longer validates: runnable_trees logged why
    form = form_cached(form_id=tree.form_id)
    if tree.filter and tree.filter.get("field") not in {field.name for field in form.fields.all()}:
        logger.warning("Scheduled tree %r (%s) did not run: its filter names the field %r, which its form no "
                       "longer has", tree.name, tree.pk, tree.filter.get("field"))
        return 0
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at or timezone.now()
    tick_at = cron_tick_at(tree.cron, moment)
    started, after = 0, 0
    while True:
        with transaction.atomic():
            batch = list(Record.objects.select_for_update().filter(form_id=form.pk, pk__gt=after)
                         .order_by("pk")[:SCHEDULED_BATCH])
            if batch:
                started += records_run(live, form=form, records=batch, record_filter=tree.filter, tick_at=tick_at)
        if len(batch) < SCHEDULED_BATCH:
            return started
        after = batch[-1].pk


def records_run(tree: ActiveTree, *, form: Form, records: list[Record], record_filter: dict[str, Any] | None,
                tick_at: datetime) -> int:
    """Call inside `atomic`, with `records` locked: start the tick's run of each record that
    matches `record_filter` and has none yet, each in a savepoint. A record whose synchronous
    phase fails keeps nothing of it (as a refused submit) and is tried again by a retry of the
    tick; the others go on."""
    matching = [record for record in records if not record_filter or condition_holds(record_filter, record.values)]
    if not matching:
        return 0
    handled = set(Run.objects.filter(tree_id=tree.id, tick_at=tick_at, record__in=matching)
                  .values_list("record_id", flat=True))
    started = []
    for record in matching:
        if record.pk in handled:
            continue
        record.form = form
        try:
            with transaction.atomic():
                tree_run_start(tree, record=record, event=Event.SCHEDULED, submission=None, phase=Phase.SYNC,
                               depth=0, tick_at=tick_at)
        except IntegrityError:
            if Run.objects.filter(tree_id=tree.id, tick_at=tick_at, record=record).exists():
                continue  # another cluster ran it since the look above
            raise
        except NodeFailure as failure:
            logger.warning("Scheduled tree %r (%s), tick %s: record %s refused at node %s: %s", tree.name, tree.id,
                           tick_at.isoformat(), record.pk, failure.node.pk if failure.node else None, failure.detail)
            continue
        started.append(record.pk)
    # The post-submission pages of these records quote their values, which the runs may set.
    if started:
        for token in Submission.objects.filter(record_id__in=started).values_list("token", flat=True):
            submission_stamp_forget(token)
    return len(started)
