"""Versions of a tree (DESIGN §3.10): the snapshot of the draft that Publish stores, and loading
a version's nodes for a run, cached forever by the version's id since a version never changes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


from eventtree.engine.caching import cache_read_through
from eventtree.kinds.base import json_copy
from eventtree.models import Node, TreeVersion


SNAPSHOT_KEYS = ("kind", "action", "label", "config")


def version_snapshot(roots: list[Node]) -> list[dict[str, Any]]:
    """The built draft `roots` as a version stores them: nested dicts, each with its node's id."""
    return [
        {"id": node.pk, **{key: json_copy(getattr(node, key)) for key in SNAPSHOT_KEYS},
         "children": version_snapshot(node.child_nodes)}
        for node in roots
    ]


def version_build(tree_id: int, snapshot: list[dict[str, Any]], parent_id: int | None = None) -> list[Node]:
    """Unsaved Node objects with `child_nodes`, as `tree_load` gives for the draft; each has the
    pk of the draft node it was taken from, which blocks and steps keep (`node_key`)."""
    roots = []
    for position, item in enumerate(snapshot):
        node = Node(pk=item["id"], tree_id=tree_id, parent_id=parent_id, position=position,
                    **{key: json_copy(item[key]) for key in SNAPSHOT_KEYS})
        node.child_nodes = version_build(tree_id, item["children"], node.pk)
        roots.append(node)
    return roots


def version_cache_key(version_id: int) -> str:
    return f"eventtree:version:{version_id}"


# Versions never change, so each process also keeps the nodes it built for the last ones it ran:
# a walk only reads them (the walker and the actions never change a node).
BUILT_VERSIONS: OrderedDict[int, list[Node]] = OrderedDict()
BUILT_VERSIONS_KEPT = 200


def version_nodes(version_id: int) -> list[Node]:
    """The root nodes of a version, built for a walk, which must not change them: from this
    process's memory, else from the cache (no query), else from the database (one query; a cache
    that is down is a miss)."""
    try:
        BUILT_VERSIONS.move_to_end(version_id)
        return BUILT_VERSIONS[version_id]
    except KeyError:
        pass
    roots = version_load(version_id)
    BUILT_VERSIONS[version_id] = roots
    while len(BUILT_VERSIONS) > BUILT_VERSIONS_KEPT:
        BUILT_VERSIONS.popitem(last=False)
    return roots


def version_load(version_id: int) -> list[Node]:
    entry = cache_read_through(
        version_cache_key(version_id),
        lambda: TreeVersion.objects.values_list("tree_id", "nodes").get(pk=version_id),
        timeout=None, what=f"version {version_id}",
    )
    tree_id, snapshot = entry
    return version_build(tree_id, snapshot)


def nodes_by_id(roots: list[Node]) -> dict[int, dict[str, Any]]:
    """Every node of built `roots` (a draft's or a version's) by id, with its content and its
    place, so that two of them can be compared node by node."""
    found: dict[int, dict[str, Any]] = {}
    stack: list[tuple[list[Node], int | None]] = [(roots, None)]
    while stack:
        siblings, parent_id = stack.pop()
        for index, node in enumerate(siblings):
            found[node.pk] = {**{key: getattr(node, key) for key in SNAPSHOT_KEYS},
                              "parent": parent_id, "index": index}
            stack.append((node.child_nodes, node.pk))
    return found
