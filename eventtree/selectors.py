"""Reads for views."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404

from eventtree.actions.registry import registry
from eventtree.draft_changes import node_changes, snapshot_by_id
from eventtree.engine.form_cache import form_cached
from eventtree.engine.trees import draft_problems, node_draft_problems, subtree_iter, tree_build
from eventtree.engine.versions import SNAPSHOT_KEYS, nodes_by_id, version_build
from eventtree.kinds import kind_registry, node_label
from eventtree.models import (
    EventTree,
    Field,
    Form,
    Node,
    Record,
    Run,
    RunMode,
    RunStatus,
    TreeVersion,
)


def form_get(*, slug: str) -> Form:
    return get_object_or_404(Form, slug=slug)


def form_public(*, slug: str) -> Form:
    """The form a visitor fills in, with its fields, from the cache (eventtree/engine/form_cache.py)."""
    try:
        return form_cached(slug=slug)
    except Form.DoesNotExist:
        raise Http404("No such form.") from None


def form_public_fields(*, form: Form) -> list[Field]:
    return [field for field in form.fields.all() if not field.internal]


# Builder ---------------------------------------------------------------------------------------

@dataclass
class EditorTree:
    tree: EventTree
    roots: list[Node]
    fields: list[Field]
    node_count: int
    invalid_count: int
    published: TreeVersion | None = None
    # Against the published version: the draft's changed nodes (each node's `change` says how)
    # and the labels of the nodes it no longer has.
    changed_count: int = 0
    removed: list[str] = dataclass_field(default_factory=list)
    versions: list[TreeVersion] = dataclass_field(default_factory=list)
    nodes: dict[int, Node] = dataclass_field(default_factory=dict)  # every draft node, described, by id

    @property
    def differs(self) -> bool:
        return self.published is None or bool(self.changed_count or self.removed)


def forms_with_trees() -> list[Form]:
    """Every form with its trees, `record_count` and `failed_run_count` (its runs that ended
    failed): two queries whatever the number of forms."""
    failed = (Run.objects.filter(tree__form=OuterRef("pk"), status=RunStatus.FAILED).order_by()
              .values("tree__form").annotate(count=Count("pk")).values("count"))
    return list(
        Form.objects.prefetch_related("trees")
        .annotate(record_count=Count("records"),
                  failed_run_count=Coalesce(Subquery(failed, output_field=IntegerField()), 0))
        .order_by("name")
    )


def tree_get(*, tree_id: int) -> EventTree:
    return get_object_or_404(EventTree.objects.select_related("form", "published__published_by"), pk=tree_id)


def tree_editor(*, tree: EventTree, versions: bool = True, previous: EditorTree | None = None) -> EditorTree:
    """The draft's nodes, each with its phase, summary, problems and change against the
    published version, and the tree's latest versions: two queries (fields, nodes), and one more
    for the versions (the editor's answers to a node edit do not show them). With `previous`, the editor
    of the same tree just before an edit, its fields and the problems of each unchanged node are
    reused: one query."""
    fields = previous.fields if previous else list(tree.form.fields.all())
    roots = tree_build(list(Node.objects.filter(tree=tree).order_by("position", "id")))
    by_name = {field.name: field for field in fields}
    if previous is None:
        problems = draft_problems(roots, by_name)
    else:
        types, problems = {name: field.type for name, field in by_name.items()}, {}
        for node in subtree_iter(roots):
            old = previous.nodes.get(node.pk)
            same = old is not None and all(getattr(old, key) == getattr(node, key) for key in SNAPSHOT_KEYS)
            found = old.problems if same else node_draft_problems(node, types, by_name)
            if found:
                problems[node.pk] = found
    nodes_describe(roots, tree, problems)
    nodes = {node.pk: node for node in subtree_iter(roots)}
    editor = EditorTree(tree=tree, roots=roots, fields=fields, node_count=len(nodes), nodes=nodes,
                        invalid_count=len(problems), published=tree.published,
                        versions=list(tree.versions.select_related("published_by")[:VERSIONS_SHOWN]) if versions else [])
    live = snapshot_by_id(tree.published.nodes) if tree.published else {}
    changes = node_changes(nodes_by_id(roots), live) if tree.published else {}
    for node in nodes.values():
        node.change = changes.get(node.pk)
    editor.changed_count = len(changes)
    editor.removed = [node_label(Node(**{key: item[key] for key in SNAPSHOT_KEYS}))
                      for node_id, item in live.items() if node_id not in nodes]
    return editor


VERSIONS_SHOWN = 20


def version_view(*, tree: EventTree, number: int) -> tuple[TreeVersion, list[Node]]:
    """A version of the tree and its nodes, described as the editor describes the draft's."""
    version = get_object_or_404(TreeVersion.objects.select_related("published_by"), tree=tree, number=number)
    roots = version_build(tree.pk, version.nodes)
    nodes_describe(roots, tree, {})
    return version, roots


def nodes_describe(roots: list[Node], tree: EventTree, problems: dict[int, list[str]]) -> None:
    """Give each built node what the editor shows: phase (with `phase_source`, the id of the
    Background or Delay it comes from as text, or "t" for the tree's own), summary, action type,
    problems."""
    start = ("background", "in background", "t") if tree.mode == RunMode.ASYNC else ("sync", "before redirect", "t")
    stack = [(root, start) for root in reversed(roots)]
    while stack:
        node, phase = stack.pop()
        kind = kind_registry.get(node.kind) if node.kind in kind_registry else None
        # A Background or Delay shows when its children run: that is what the builder decides.
        own = kind and kind.phase(node.config or {})
        phase = (*own, str(node.pk)) if own else phase
        node.phase_key, node.phase_label, node.phase_source = phase
        node.problems = problems.get(node.pk, [])
        node.action_type = registry.get(node.action) if node.action in registry else None
        node.summary = node_summary(node)
        stack.extend((child, phase) for child in reversed(node.child_nodes))


def form_trees(*, form: Form) -> list[EventTree]:
    """The form's trees for its page, each with `live` (its published version's number or None),
    `draft_problems` (how many draft nodes would keep it from publishing) and `draft_differs`:
    three queries (trees with their versions, fields, nodes)."""
    trees = list(form.trees.select_related("published").order_by("position", "id"))
    fields = {field.name: field for field in form.fields.all()}
    nodes: dict[int, list[Node]] = {tree.pk: [] for tree in trees}
    for node in Node.objects.filter(tree__form=form).order_by("position", "id"):
        nodes[node.tree_id].append(node)
    for tree in trees:
        roots = tree_build(nodes[tree.pk])
        tree.live = tree.published.number if tree.published else None
        tree.draft_problems = len(draft_problems(roots, fields))
        tree.draft_differs = tree.published is None or nodes_by_id(roots) != snapshot_by_id(tree.published.nodes)
    return trees


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
        .select_related("tree", "submission", "version")
        .defer("version__nodes")  # the page shows the version's number, not its whole snapshot
        .prefetch_related("blocks")
        .order_by("-created_at", "-id")
    )
