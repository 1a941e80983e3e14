"""Reads of the runs pages (DESIGN §3.9, §5 "runs"): the list of runs and its filters, and one
run with everything it did. A leaf: it reads models only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import models
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from eventtree.models import Block, BlockState, EventTree, Flag, Form, OutboxMessage, Progress, Run, RunStatus, Step


class RunState(models.TextChoices):
    """What the runs pages say of a run: its status, except that a run Django stored as done
    because staff cancelled every block it had (RunStatus has no "cancelled": a cancelled block
    is finished, and a run whose blocks are all finished without a failure is done) is said to be
    cancelled. A run with some blocks cancelled and the others done is done."""

    RUNNING = "running", "Running"  # some block is not finished yet
    DONE = "done", "Done"  # every block finished, none failed, not every one was cancelled
    FAILED = "failed", "Failed"  # every block finished and one failed
    CANCELLED = "cancelled", "Cancelled"  # it had blocks and staff cancelled all of them

    @property
    def is_finished(self) -> bool:
        return self != RunState.RUNNING


def run_state_of(*, status: str, block_states: list[str]) -> RunState:
    """The state of a run from its status and its blocks' states, as `run_list` decides it."""
    if status == RunStatus.DONE and block_states and all(state == BlockState.CANCELLED for state in block_states):
        return RunState.CANCELLED
    return RunState(status)


def run_list(
    *,
    form: Form | None = None,
    tree: EventTree | None = None,
    version: int | None = None,
    state: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[Run]:
    """Runs, newest first, each with `state` (a RunState value), `failed_blocks` and
    `version_number`, and its tree and form: one query, whatever the page's length (a page of it
    and its count: two). Dates are days of the project's time zone, both included."""
    blocks = Block.objects.filter(run=OuterRef("pk"))
    failed = blocks.filter(state=BlockState.FAILED).values("run").annotate(count=Count("pk")).values("count")
    runs = (
        Run.objects.select_related("tree__form")
        .annotate(
            state=Case(
                When(Q(status=RunStatus.DONE) & Exists(blocks) & ~Exists(blocks.exclude(state=BlockState.CANCELLED)),
                     then=Value(RunState.CANCELLED.value)),
                default=F("status"),
                output_field=models.CharField(),
            ),
            failed_blocks=Coalesce(Subquery(failed[:1]), 0, output_field=IntegerField()),
            version_number=F("version__number"),
        )
        .order_by("-created_at", "-id")
    )
    if form is not None:
        runs = runs.filter(tree__form=form)
    if tree is not None:
        runs = runs.filter(tree=tree)
    if version is not None:
        runs = runs.filter(version__number=version)
    if state:
        runs = runs.filter(state=state)
    if date_from is not None:
        runs = runs.filter(created_at__gte=day_start(date_from))
    if date_to is not None:
        runs = runs.filter(created_at__lt=day_start(date_to + dt.timedelta(days=1)))
    return runs


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the project's time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@dataclass
class RunPage:
    """One run for its page: each block with `step_list` (its steps, attempt by attempt), the
    steps of the synchronous phase, the outbox, the flags and the progress items. Each step has
    `duration_ms`."""

    run: Run
    state: RunState
    sync_steps: list[Step]
    blocks: list[Block]
    outbox: list[OutboxMessage]
    flags: list[Flag]
    progress: list[Progress]


def run_page(*, run_id: int) -> RunPage:
    """The run and everything it did, with its replays (`last_replay_id`, `replay_count`): six
    queries, however many blocks and steps it has (Http404 for an unknown run)."""
    replays = Run.objects.filter(replay_of=OuterRef("pk"))
    run = get_object_or_404(
        Run.objects.select_related("tree__form", "version", "submission").defer("version__nodes").annotate(
            last_replay_id=Subquery(replays.order_by("-id").values("pk")[:1]),
            replay_count=Subquery(replays.values("replay_of").annotate(count=Count("pk")).values("count")),
        ), pk=run_id
    )
    blocks = list(Block.objects.filter(run=run).order_by("id"))
    steps: dict[int | None, list[Step]] = {block.pk: [] for block in blocks}
    steps[None] = []
    for step in Step.objects.filter(run=run).order_by("attempt", "started_at", "id"):
        step.duration_ms = round((step.finished_at - step.started_at).total_seconds() * 1000)
        steps.setdefault(step.block_id, []).append(step)
    for block in blocks:
        block.step_list = steps[block.pk]
    return RunPage(
        run=run,
        state=run_state_of(status=run.status, block_states=[block.state for block in blocks]),
        sync_steps=steps[None],
        blocks=blocks,
        outbox=list(OutboxMessage.objects.filter(run=run).defer("payload").order_by("id")),
        flags=list(Flag.objects.filter(run=run).order_by("name")),
        progress=list(Progress.objects.filter(run=run).order_by("id")),
    )


NODE_OUTCOMES_SHOWN = 10


def node_outcomes(*, tree_id: int, node_key: int) -> list[Step]:
    """What the node did in its tree's last runs: its last `NODE_OUTCOMES_SHOWN` steps, newest
    first, each with its run and `duration_ms` (a node keeps its id in every version, so the
    draft's node and the steps of any version that had it match): one query."""
    steps = list(
        Step.objects.filter(run__tree_id=tree_id, node_key=node_key)
        .select_related("run")
        .order_by("-id")[:NODE_OUTCOMES_SHOWN]
    )
    for step in steps:
        step.duration_ms = round((step.finished_at - step.started_at).total_seconds() * 1000)
    return steps
