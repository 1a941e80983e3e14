"""A stored tree's nodes: loading a draft (one query, built into nested lists in Python), walking
built nodes, and what keeps them from running or from being published (no query)."""

from __future__ import annotations

import json
from collections import OrderedDict, defaultdict
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
    form_shape = json.dumps(sorted((name, field.type, field.choices) for name, field in fields.items()), default=str)
    found = {}
    for node in subtree_iter(roots):
        problems = node_draft_problems_seen(node, form_shape, field_types, fields)
        if problems:
            found[node.pk] = list(problems)
    return found


# The problems of a node follow from what it stores and its form's fields alone: remembered per
# process for the last PROBLEMS_SEEN_SIZE distinct (node, fields) pairs, so that the editor, which
# re-checks the whole draft at each change, validates again only the nodes that changed.
PROBLEMS_SEEN: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()
PROBLEMS_SEEN_SIZE = 5000


def node_draft_problems_seen(node: Node, form_shape: str, field_types: dict[str, str],
                             fields: dict[str, Field]) -> tuple[str, ...]:
    """`node_draft_problems`, remembered by what the node stores and `form_shape` (what its
    form's fields are: names, types and choices)."""
    key = (json.dumps([node.kind, node.action, node.label, node.config], sort_keys=True, default=str), form_shape)
    problems = PROBLEMS_SEEN.get(key)
    if problems is None:
        problems = PROBLEMS_SEEN[key] = tuple(node_draft_problems(node, field_types, fields))
        if len(PROBLEMS_SEEN) > PROBLEMS_SEEN_SIZE:
            PROBLEMS_SEEN.popitem(last=False)
    else:
        PROBLEMS_SEEN.move_to_end(key)
    return problems


def node_draft_problems(node: Node, field_types: dict[str, str], fields: dict[str, Field]) -> list[str]:
    """What keeps one draft node from being published (not its children): its config and the
    fields it names first, then its values against those fields."""
    return node_problems(node, field_types) or node_value_problems(node, fields)


def nodes_using_field(roots: list[Node], name: str) -> list[Node]:
    """The nodes of built `roots` that name the field `name` or read it in a template."""
    return [node for node in subtree_iter(roots) if name in node_field_names(node)]
