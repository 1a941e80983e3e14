"""A stored tree's nodes: loading a draft (one query, built into nested lists in Python), walking
built nodes, and what keeps them from running or from being published (no query)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from eventtree.kinds import node_field_names, node_label, node_problems, node_value_problems
from eventtree.models import Field, Node


def tree_load(tree_id: int) -> list[Node]:
    """The root nodes of a tree, in order, each with `child_nodes` filled in (recursively)."""
    nodes = list(Node.objects.filter(tree_id=tree_id).order_by("position", "id"))
    return tree_build(nodes)


def tree_build(nodes: list[Node]) -> list[Node]:
    children: dict[int | None, list[Node]] = defaultdict(list)
    for node in nodes:
        children[node.parent_id].append(node)
    for node in nodes:
        node.child_nodes = children.get(node.pk, [])
    return children.get(None, [])


def subtree_iter(roots: list[Node]) -> Iterator[Node]:
    """Every node of the built subtrees of `roots`, each before its children."""
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.child_nodes))


def subtree_find(roots: list[Node], node_id: int) -> Node | None:
    return next((node for node in subtree_iter(roots) if node.pk == node_id), None)


def tree_problems(roots: list[Node], field_types: dict[str, str]) -> list[str]:
    """What keeps a built tree from running: every problem of every node (no query)."""
    return [
        f"{node_label(node)} (node {node.pk}): {problem}"
        for node in subtree_iter(roots)
        for problem in node_problems(node, field_types)
    ]


def draft_problems(roots: list[Node], fields: dict[str, Field]) -> dict[int, list[str]]:
    """Every problem that keeps a built draft from being published, by node id: each node's
    config, each field it names, each condition value against the field's choices, each template
    (no query; `fields`: the form's fields by name)."""
    field_types = {name: field.type for name, field in fields.items()}
    found = {}
    for node in subtree_iter(roots):
        problems = node_draft_problems(node, field_types, fields)
        if problems:
            found[node.pk] = problems
    return found


def node_draft_problems(node: Node, field_types: dict[str, str], fields: dict[str, Field]) -> list[str]:
    """What keeps one draft node from being published (not its children): its config and the
    fields it names first, then its values against those fields."""
    return node_problems(node, field_types) or node_value_problems(node, fields)


def nodes_using_field(roots: list[Node], name: str) -> list[Node]:
    """The nodes of built `roots` that name the field `name` or read it in a template."""
    return [node for node in subtree_iter(roots) if name in node_field_names(node)]
