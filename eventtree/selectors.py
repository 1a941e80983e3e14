"""Reads for views."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from eventtree.actions.registry import registry
from eventtree.engine.templating import render_value
from eventtree.engine.trees import tree_build
from eventtree.kinds import kind_registry, node_problems
from eventtree.models import (
    Block,
    BlockState,
    EventTree,
    Field,
    Flag,
    Form,
    Node,
    Progress,
    Record,
    Run,
    RunMode,
    Submission,
)

logger = logging.getLogger(__name__)


def form_get(*, slug: str) -> Form:
    return get_object_or_404(Form, slug=slug)


def form_public_fields(*, form: Form) -> list[Field]:
    return [field for field in form.fields.all() if not field.internal]


def submission_get(*, slug: str, token: str) -> Submission:
    return get_object_or_404(
        Submission.objects.select_related("form", "record"), token=token, form__slug=slug
    )


def submission_status(*, submission: Submission) -> dict[str, Any]:
    """The state of every run of a submission, as the status JSON (DESIGN §3.5) carries it.

    A constant number of queries: blocks, flags, progress.
    """
    blocks = list(
        Block.objects.filter(run__submission=submission)
        .select_related("run__tree")
        .order_by("run_id", "id")
    )
    flags: dict[str, bool] = {}
    for name, value in Flag.objects.filter(run__submission=submission).values_list("name", "value"):
        flags[name] = flags.get(name, False) or value
    progress = [
        {
            "name": item.name,
            "title": item.title or item.name,
            "total": item.total,
            "done": item.done,
            "message": item.message,
            "percent": item.percent,
        }
        for item in Progress.objects.filter(run__submission=submission).order_by("run_id", "id")
    ]
    now = timezone.now()
    all_finished = all(BlockState(block.state).is_finished for block in blocks)
    failed = any(block.state == BlockState.FAILED for block in blocks)
    wanted = submission.form.completion_flags
    finished = all_finished or (bool(wanted) and all(flags.get(name) for name in wanted))
    return {
        "status": "failed" if failed and all_finished else ("done" if finished else "running"),
        "finished": finished,
        "blocks": [
            {
                "tree": block.run.tree.name,
                "label": block.label,
                "state": block.state,
                "attempts": block.attempts,
                "due_at": block.due_at.isoformat() if block.state == BlockState.PENDING else None,
                "scheduled": block.state == BlockState.PENDING and block.due_at > now,
            }
            for block in blocks
        ],
        "flags": flags,
        "progress": progress,
    }


def status_etag(status: dict[str, Any], variant: str) -> str:
    digest = hashlib.sha256(json.dumps([variant, status], sort_keys=True).encode()).hexdigest()
    return f'"{digest[:32]}"'


# Builder ---------------------------------------------------------------------------------------

@dataclass
class EditorTree:
    tree: EventTree
    roots: list[Node]
    fields: list[Field]
    node_count: int
    invalid_count: int


def forms_with_trees() -> list[Form]:
    return list(Form.objects.prefetch_related("trees").annotate(record_count=Count("records")).order_by("name"))


def tree_get(*, tree_id: int) -> EventTree:
    return get_object_or_404(EventTree.objects.select_related("form"), pk=tree_id)


def tree_editor(*, tree: EventTree) -> EditorTree:
    """The tree's nodes, each with its phase, summary and problems: three queries in all."""
    fields = list(tree.form.fields.all())
    field_types = {field.name: field.type for field in fields}
    nodes = list(Node.objects.filter(tree=tree).order_by("position", "id"))
    roots = tree_build(nodes)
    start = ("background", "in background") if tree.mode == RunMode.ASYNC else ("sync", "before redirect")
    stack = [(root, start) for root in reversed(roots)]
    invalid = 0
    while stack:
        node, phase = stack.pop()
        kind = kind_registry.get(node.kind) if node.kind in kind_registry else None
        # A Background or Delay shows when its children run: that is what the builder decides.
        phase = (kind and kind.phase(node.config or {})) or phase
        node.phase_key, node.phase_label = phase
        node.problems = node_problems(node, field_types)
        invalid += bool(node.problems)
        node.action_type = registry.get(node.action) if node.action in registry else None
        node.summary = node_summary(node)
        stack.extend((child, phase) for child in reversed(node.child_nodes))
    return EditorTree(tree=tree, roots=roots, fields=fields, node_count=len(nodes), invalid_count=invalid)


def node_summary(node: Node) -> str:
    """One line that says what the node does; never raises."""
    if node.kind not in kind_registry:
        return f"unknown node kind {node.kind!r}"
    return kind_registry.get(node.kind).node_summary(node)


def record_list(*, form: Form, query: str = "") -> QuerySet[Record]:
    records = Record.objects.filter(form=form).order_by("-created_at", "-id")
    if query:
        records = records.filter(values__icontains=query)
    return records


def record_get(*, record_id: int) -> Record:
    return get_object_or_404(Record.objects.select_related("form"), pk=record_id)


def record_runs(*, record: Record) -> list[Run]:
    return list(
        Run.objects.filter(record=record)
        .select_related("tree", "submission")
        .prefetch_related("blocks")
        .order_by("-created_at", "-id")
    )


def submission_message(*, form: Form, record: Record | None) -> str:
    """The form's post-submission message for `record`, as plain text (the page escapes it).
    Without a record (nothing ran, so no submission names one) the values it quotes are empty.

    A message that is not a valid template (it could be saved so) is logged and shown as typed:
    the post-submission page must not fail because of it.
    """
    try:
        # render_value gives a plain str, not a SafeString: |linebreaks escapes it.
        values = {**record.values, "id": record.pk} if record is not None else {}
        message = render_value(form.success_message, {"record": values})
    except Exception:  # a template error of any kind; the detail goes to the log only
        logger.exception("The post-submission message of form %s is not a valid template", form.slug)
        message = form.success_message
    return message
