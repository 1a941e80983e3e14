"""Firing a form event: the synchronous phase of every active tree (DESIGN §3.1, §3.2, §3.6)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from eventtree.errors import ActionFailed
from eventtree.engine import dispatch
from eventtree.engine.caching import cache_forget, cache_read_through
from eventtree.engine.form_cache import form_cached
from eventtree.engine.context import RunContext
from eventtree.engine.runs import run_finish_now
from eventtree.engine.trees import tree_problems
from eventtree.engine.values import coerce_value
from eventtree.engine.versions import version_build, version_nodes
from eventtree.engine.walker import walk
from eventtree.models import (
    Block,
    Event,
    EventTree,
    Field,
    Form,
    Phase,
    Record,
    Run,
    RunMode,
    Step,
    Submission,
    TreeVersion,
    due_now,
)


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActiveTree:
    id: int
    name: str
    mode: str
    max_attempts: int
    version_id: int  # the published version, whose nodes a run walks
    # What keeps the published version from running (a field it names was renamed or deleted
    # since), decided when the entry is cached, so that a submit does not validate every node.
    problems: tuple[str, ...] = ()


def active_trees_cache_key(form_id: int, event: str) -> str:
    # "v2": entries hold the published version; a cache kept across an upgrade may still hold
    # entries of the shape before, which a submit must not read.
    return f"eventtree:active-trees:v2:{form_id}:{event}"


# Entries are forgotten when a tree changes; the timeout only bounds how stale an entry can be
# when that forgetting failed (the cache server was down while a tree was saved).
ACTIVE_TREES_TIMEOUT = 300


def active_trees(form_id: int, event: str) -> list[ActiveTree]:
    """The active, published trees of (form, event) with their problems, cached until a tree or a
    field of the form changes (signal_handlers.py); editing a draft changes nothing here.

    A cache that is down is a cache miss: submits go on, reading the database.
    """
    return cache_read_through(active_trees_cache_key(form_id, event), lambda: active_trees_read(form_id, event),
                              timeout=ACTIVE_TREES_TIMEOUT, what="the active trees")


def active_trees_read(form_id: int, event: str) -> list[ActiveTree]:
    """The active, published trees from the database, each with the problems of its published
    version against the form's fields as they are now: three queries."""
    rows = list(
        EventTree.objects.filter(form_id=form_id, event=event, active=True, published__isnull=False)
        .order_by("position", "id")
        .values_list("id", "name", "mode", "max_attempts", "published_id")
    )
    if not rows:
        return []
    field_types = dict(Field.objects.filter(form_id=form_id).values_list("name", "type"))
    snapshots = dict(TreeVersion.objects.filter(pk__in=[row[4] for row in rows]).values_list("pk", "nodes"))
    return [
        ActiveTree(*row, problems=tuple(tree_problems(version_build(row[0], snapshots[row[4]]), field_types)))
        for row in rows
    ]


def active_trees_forget(form_id: int) -> None:
    cache_forget([active_trees_cache_key(form_id, event) for event in Event.values],
                 what=f"the active trees of form {form_id}")


def event_fire(
    *,
    record: Record,
    event: str,
    visitor: bool = True,
    submission: Submission | None = None,
    phase: Phase = Phase.SYNC,
    depth: int = 0,
    trees: list[ActiveTree] | None = None,
) -> tuple[Submission | None, list[Run]]:
    """Run the synchronous phase of every active tree of (record.form, event).

    Call inside `transaction.atomic()`: a NodeFailure propagates, and the caller's rollback then
    removes the record, the runs and every queued block. With `visitor`, a Submission groups the
    runs (created here unless given).
    """
    trees = runnable_trees(record.form_id, event) if trees is None else trees
    if not trees:
        return submission, []
    if visitor and submission is None:
        submission = Submission.objects.create(form_id=record.form_id, record=record, event=event)
    runs = [
        tree_run_start(tree, record=record, event=event, submission=submission, phase=phase, depth=depth)
        for tree in trees
    ]
    return submission, runs


def runnable_trees(form_id: int, event: str) -> list[ActiveTree]:
    """The active trees of (form, event), leaving out every tree whose live version no longer
    validates (a field it names was renamed or deleted in the admin since it was published):
    such a tree does not run, the submit goes on without it, and the log and `manage.py check`
    say why."""
    runnable = []
    for tree in active_trees(form_id, event):
        if tree.problems:
            logger.warning("Tree %r (%s) did not run: %s", tree.name, tree.id, "; ".join(tree.problems))
        else:
            runnable.append(tree)
    return runnable


def tree_run_start(
    tree: ActiveTree,
    *,
    record: Record,
    event: str,
    submission: Submission | None,
    phase: Phase,
    depth: int,
    tick_at: datetime | None = None,
    replay_of_id: int | None = None,
) -> Run:
    """Start a run of `tree`'s version on `record`: its synchronous walk now, its blocks handed
    over when the transaction commits. `tick_at` is the cron tick a scheduled run stands for;
    `replay_of_id` the run a replay runs again. Call inside `atomic`: a NodeFailure propagates
    and the caller rolls back."""
    run = Run.objects.create(tree_id=tree.id, version_id=tree.version_id, record=record,
                             submission=submission, event=event, depth=depth, tick_at=tick_at,
                             replay_of_id=replay_of_id)
    # What the walk reads of the tree (its name, its attempts) is in the cached entry: no query.
    run.tree = EventTree(pk=tree.id, form_id=record.form_id, name=tree.name, mode=tree.mode,
                         max_attempts=tree.max_attempts, published_id=tree.version_id)
    if tree.mode == RunMode.ASYNC:
        block = Block.objects.create(
            run=run, whole_tree=True, label=tree.name, due_at=due_now(), max_attempts=tree.max_attempts
        )
        dispatch.blocks_enqueue([block])
        return run
    context = RunContext(run=run, record=record, phase=phase, record_creator=record_create_and_fire)
    walk(version_nodes(tree.version_id), context)
    Step.objects.bulk_create(context.steps)
    if not context.blocks_pending:
        run_finish_now(run)
    return run


def record_create_and_fire(parent: RunContext, form_slug: str, values: dict[str, Any]) -> Record:
    """The create_record action: a record in another form, firing its `submitted` trees in the
    same phase; their runs join the parent's submission, so its page follows them too.

    The chain depth is the parent run's, plus one, whatever phase the parent runs in: a loop of
    forms creating records in each other through Background blocks stops at the limit too, with
    a failure that no retry can mend.
    """
    limit = settings.EVENTTREE["MAX_RECORD_CHAIN"]
    if parent.depth + 1 > limit:
        raise ActionFailed(
            f"create_record: a chain of created records deeper than {limit} "
            f"(this run was started by a chain of {parent.depth}); stopped, not retried",
            permanent=True,
        )
    try:
        form = form_cached(slug=form_slug)
    except Form.DoesNotExist:
        raise ActionFailed(f"create_record: no form with slug {form_slug!r}") from None
    fields = {field.name: field for field in form.fields.all()}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ActionFailed(f"create_record: the form {form_slug!r} has no field {unknown[0]!r}")
    coerced = {name: coerce_value(fields[name], value) for name, value in values.items()}
    missing = [f.name for f in fields.values() if f.required and coerced.get(f.name) in (None, "")]
    if missing:
        raise ActionFailed(f"create_record: required field {missing[0]!r} of {form_slug!r} is empty")
    record = Record.objects.create(
        form=form, values=values_with_defaults(fields.values(), coerced)
    )
    event_fire(
        record=record,
        event=Event.SUBMITTED,
        visitor=False,
        submission=parent.run.submission,
        phase=parent.phase,
        depth=parent.depth + 1,
    )
    return record


def values_with_defaults(fields: Iterable[Field], values: dict[str, Any]) -> dict[str, Any]:
    """A new record's values: field defaults, then the given values."""
    initial = {field.name: field.default for field in fields if field.default is not None}
    return {**initial, **values}
