"""Test runs (DESIGN §3.9): a tree's draft walked against a sample record, and nothing kept.

Everything happens in one transaction that is always rolled back: the sample record, the run,
what the actions write, and the records that create_record makes together with the runs of
their own trees (whatever those hand to the workers on commit is discarded with the rollback).
The synchronous phase is walked as a submit walks it; then the Background and Delay nodes it
reached are walked as blocks, in the order the workers would take them, each in a savepoint.
The walk makes no block and writes no outbox message in a dry run (`RunContext.dry_run`): it
collects both, and the trace shows them.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from django.utils.timesince import timeuntil

from eventtree.engine.context import RunContext, flag_set
from eventtree.engine.events import record_create_and_fire, values_with_defaults
from eventtree.engine.trees import draft_problems, tree_load
from eventtree.engine.walker import NodeFailure, walk
from eventtree.kinds import kind_registry, node_label
from eventtree.models import Block, EventTree, Form, Node, Phase, Record, Run, RunMode, StepStatus, due_now


class Outcome(models.TextChoices):
    DONE = "done", "Everything would run"  # every node reached ran, or a condition skipped it
    REFUSED = "refused", "The submit would be refused"  # the synchronous phase failed
    FAILED = "failed", "A background block would fail"  # a real run would retry it first
    INVALID = "invalid", "The test did not run"  # the sample values or the tree are not valid

    @property
    def is_failure(self) -> bool:
        return self != Outcome.DONE


@dataclass
class TestRunTrace:
    """What a test run found: one step a node reached, in the order they ran."""

    outcome: str = Outcome.DONE
    steps: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""  # refused: what the visitor would see; failed: which block failed, and why
    error: str = ""  # refused: the detail that only staff see
    errors: dict[str, list[str]] = field(default_factory=dict)  # invalid: by field name or node path
    skipped: list[dict[str, Any]] = field(default_factory=list)  # trees a submit would leave out
    values: dict[str, Any] = field(default_factory=dict)  # the record's values as the run left them

    __test__ = False  # not a test class, whatever pytest thinks of the name

    @property
    def summary(self) -> str:
        return Outcome(self.outcome).label

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"outcome": self.outcome}
        for key in ("message", "error", "errors", "skipped"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return {**data, "steps": self.steps, "values": self.values}

    def steps_by_node(self) -> dict[int, dict[str, Any]]:
        return {step["node_id"]: step for step in self.steps if step["node_id"] is not None}


class TestRunContext(RunContext):
    """A dry run's context that also keeps the node of each step, for the trace."""

    __test__ = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(dry_run=True, record_creator=record_create_and_fire, **kwargs)
        self.step_nodes: list[Node | None] = []

    def step_add(self, node: Node | None, **kwargs: Any) -> None:
        super().step_add(node, **kwargs)
        self.step_nodes.append(node)


@dataclass(order=True)
class PendingBlock:
    """A block the workers would run: a Background or Delay node's children, or a whole tree."""

    due_at: datetime
    order: int
    run: Run = field(compare=False)
    node: Node | None = field(compare=False)  # None: a whole tree in async mode
    children: list[Node] = field(compare=False)


def tree_test_run(
    *, tree: EventTree, values: dict[str, Any] | None = None, record: Record | None = None, event: str | None = None
) -> TestRunTrace:
    """A dry run of one tree's draft (its current nodes), whether it is active or not.

    `values` are a sample record's values, cleaned as a submit cleans them (the public fields'
    `RecordForm.record_values()`); with `record`, they change that record, as an edit would.
    A tree with a node that does not validate does not run: outcome invalid.
    """
    roots = tree_load(tree.pk)
    problems = draft_problems(roots, {field.name: field for field in tree.form.fields.all()})
    if problems:
        return TestRunTrace(outcome=Outcome.INVALID, errors=problems_by_path(tree.name, roots, problems),
                            message="The draft does not run until every node is configured.")
    return trees_test_run(form=tree.form, trees=[(tree, roots)], event=event or tree.event, values=values,
                          record=record)


def form_test_run(
    *, form: Form, event: str, values: dict[str, Any] | None = None, record: Record | None = None
) -> TestRunTrace:
    """A dry run of every active tree of (form, event), their drafts walked as one submit walks
    them: each tree's synchronous phase in order, then the blocks. A tree with a node that
    does not validate is left out, as a submit leaves it out (`skipped`)."""
    fields = {field.name: field for field in form.fields.all()}
    trees, skipped = [], []
    for tree in EventTree.objects.filter(form=form, event=event, active=True).order_by("position", "id"):
        roots = tree_load(tree.pk)
        problems = draft_problems(roots, fields)
        if problems:
            skipped.append({"tree": tree.name, "problems": problems_by_path(tree.name, roots, problems)})
        else:
            trees.append((tree, roots))
    trace = trees_test_run(form=form, trees=trees, event=event, values=values, record=record)
    trace.skipped = skipped
    return trace


def trees_test_run(
    *, form: Form, trees: list[tuple[EventTree, list[Node]]], event: str,
    values: dict[str, Any] | None, record: Record | None,
) -> TestRunTrace:
    """Walk built trees in a transaction that is rolled back, also inside an outer `atomic`."""
    unknown = sorted(set(values or {}) - set(form.fields.values_list("name", flat=True)))
    if unknown:
        return TestRunTrace(outcome=Outcome.INVALID, errors={name: ["The form has no such field."] for name in unknown},
                            message=f"The form has no field {unknown[0]!r}.")
    with transaction.atomic():
        try:
            return TestRun(form=form, event=event).walk(trees, values=values or {}, record=record)
        finally:
            transaction.set_rollback(True)


class TestRun:
    """One test run in progress; call `walk` inside the transaction that is rolled back."""

    __test__ = False

    def __init__(self, *, form: Form, event: str) -> None:
        self.form = form
        self.event = event
        self.trace = TestRunTrace()
        self.started_at = due_now()
        self.queue: list[PendingBlock] = []
        self.order = itertools.count()
        self.paths: dict[int, tuple[str, str]] = {}  # node id: (tree name, path)

    def walk(self, trees: list[tuple[EventTree, list[Node]]], *, values: dict[str, Any],
             record: Record | None) -> TestRunTrace:
        record = self.record_prepare(values, record)
        for tree, roots in trees:
            self.paths.update(node_paths(tree.name, roots))
            run = Run.objects.create(tree=tree, record=record, event=self.event)
            if tree.mode == RunMode.ASYNC:
                self.block_add(run, None, roots, self.started_at)
                continue
            context = TestRunContext(run=run, record=record, phase=Phase.SYNC)
            try:
                with transaction.atomic():
                    walk(roots, context)
            except NodeFailure as failure:
                self.steps_add(context, self.started_at, kept=False)
                for step in self.trace.steps:  # the earlier trees' blocks go with the refusal too
                    if step["status"] == StepStatus.DEFERRED:
                        step["output"] = "would not run: the submit is refused"
                self.trace.outcome = Outcome.REFUSED
                self.trace.message = failure.public_message
                self.trace.error = failure.detail
                self.trace.values = self.values_ordered(record.values)
                return self.trace
            self.steps_add(context, self.started_at)
        while self.queue:
            record = self.block_walk(heapq.heappop(self.queue), record)
        self.trace.values = self.values_ordered(record.values)
        return self.trace

    def values_ordered(self, values: dict[str, Any]) -> dict[str, Any]:
        """The record's values in the order of the form's fields (values of no field last)."""
        order = {name: index for index, name in enumerate(self.form.fields.values_list("name", flat=True))}
        return dict(sorted(values.items(), key=lambda item: order.get(item[0], len(order))))

    def record_prepare(self, values: dict[str, Any], record: Record | None) -> Record:
        if record is None:
            return Record.objects.create(form=self.form, values=values_with_defaults(self.form.fields.all(), values))
        record = Record.objects.select_related("form").get(pk=record.pk)
        if values:
            record.values = {**record.values, **values}
            record.save(update_fields=["values", "updated_at"])
        return record

    def block_add(self, run: Run, node: Node | None, children: list[Node], due_at: datetime) -> None:
        heapq.heappush(self.queue, PendingBlock(due_at, next(self.order), run, node, children))

    def block_walk(self, block: PendingBlock, record: Record) -> Record:
        """Walk one block as a worker would, in a savepoint; a failure rolls back the block only."""
        ran_at = max(block.due_at, self.started_at)
        record = Record.objects.select_related("form").get(pk=record.pk)
        context = TestRunContext(run=block.run, record=record, phase=Phase.BACKGROUND)
        try:
            with transaction.atomic():
                walk(block.children, context)
                flag_set(run_id=block.run.pk, name=Block.flag_name_for(
                    tree_id=block.run.tree_id, node_key=block.node.pk if block.node else None))
        except NodeFailure as failure:
            self.steps_add(context, ran_at, kept=False)
            self.block_failed(block, failure)
            return Record.objects.select_related("form").get(pk=record.pk)
        self.steps_add(context, ran_at)
        return context.record

    def block_failed(self, block: PendingBlock, failure: NodeFailure) -> None:
        """Note the first block that fails; the others still run, as they would."""
        if self.trace.outcome != Outcome.DONE:
            return
        name = node_label(block.node) if block.node else f"the tree {block.run.tree.name}"
        retries = "" if failure.permanent else (
            f" A real run tries it {block.run.tree.max_attempts} times; a test run tries once.")
        self.trace.outcome = Outcome.FAILED
        self.trace.message = f"{name}: {failure.detail.rstrip('.')}.{retries}"

    def steps_add(self, context: TestRunContext, ran_at: datetime, *, kept: bool = True) -> None:
        """The trace of one walk: each step, the email it would send, when its blocks would run.

        A walk that failed (`kept` false) is rolled back with the blocks it would have made.
        """
        effects = {node_id: (kind, payload) for node_id, kind, payload in context.dry_outbox}
        why = "the submit is refused" if context.phase == Phase.SYNC else "its block fails"
        deferred = {node.pk: self.deferred_add(context, node, ran_at) if kept else f"would not run: {why}"
                    for node in context.deferred}
        for node, step in zip(context.step_nodes, context.steps):
            node_id = node.pk if node is not None else None
            tree, path = self.paths.get(node_id, (context.run.tree.name, ""))
            entry = {
                "path": path, "kind": node.kind if node is not None else "",
                "action": (node.action or None) if node is not None else None,
                "label": step.label, "phase": str(step.phase), "status": str(step.status),
                "output": step.output, "error": step.error, "node_id": node_id, "tree": tree,
            }
            if node_id in deferred and step.status == StepStatus.DEFERRED:
                entry["output"] = deferred[node_id]
            if node_id in effects:
                entry.update(effect_entry(*effects[node_id], lost="" if kept else why))
            self.trace.steps.append(entry)

    def deferred_add(self, context: TestRunContext, node: Node, ran_at: datetime) -> str:
        """Queue a Background or Delay node the walk reached; says when its block would run."""
        due_at, note = kind_registry.get(node.kind).due_at(node.config or {}, context.record.values, ran_at)
        if due_at is None:
            return note
        self.block_add(context.run, node, node.child_nodes, due_at)
        after = "the submit" if context.phase == Phase.SYNC else "its block"
        if due_at <= ran_at:
            return f"would run in a worker right after {after}"
        seconds = int((due_at - ran_at).total_seconds())
        wait = f"{seconds} s" if seconds < 60 else timeuntil(due_at, ran_at).replace("\xa0", " ")
        return f"would run in a worker at {timezone.localtime(due_at):%Y-%m-%d %H:%M %Z}, {wait} after {after}"


def effect_entry(kind: str, payload: dict[str, Any], *, lost: str = "") -> dict[str, Any]:
    """What a step would send once its transaction commits (an email: to, subject, body), or
    why it would not (`lost`: its transaction is rolled back)."""
    verb, why = ("would not send", f": {lost}") if lost else ("would send", "")
    if kind == "send_email":
        email = {key: payload.get(key) for key in ("to", "subject", "body")}
        return {"output": f"{verb} an email to {', '.join(payload.get('to') or [])}{why}", "email": email}
    return {"output": f"{verb} ({kind}){why}", "effect": {"kind": kind, **payload}}


def node_paths(tree_name: str, roots: list[Node], prefix: str = "nodes") -> dict[int, tuple[str, str]]:
    """Each node's place in the form package (`nodes[1].children[0]`), by node id."""
    paths: dict[int, tuple[str, str]] = {}
    for index, node in enumerate(roots):
        path = f"{prefix}[{index}]"
        paths[node.pk] = (tree_name, path)
        paths.update(node_paths(tree_name, node.child_nodes, f"{path}.children"))
    return paths


def problems_by_path(tree_name: str, roots: list[Node], problems: dict[int, list[str]]) -> dict[str, list[str]]:
    paths = node_paths(tree_name, roots)
    return {paths[node_id][1]: messages for node_id, messages in problems.items()}
