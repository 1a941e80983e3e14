"""How a tree's draft differs from its published version, node by node (DESIGN §3.10): what the
editor marks new, changed or moved. Pure functions over the draft's and the version's nodes by id
(`nodes_by_id`, `snapshot_by_id`): no query."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from eventtree.engine.versions import SNAPSHOT_KEYS


def snapshot_by_id(snapshot: list[dict[str, Any]], parent: int | None = None,
                   found: dict[int, dict[str, Any]] | None = None) -> dict[int, dict[str, Any]]:
    """A version's stored nodes by id, in tree order, as `nodes_by_id` gives the draft's (without
    building a node of each: the editor only compares them)."""
    found = {} if found is None else found
    for index, item in enumerate(snapshot):
        found[item["id"]] = {**{key: item[key] for key in SNAPSHOT_KEYS}, "parent": parent, "index": index}
        snapshot_by_id(item["children"], item["id"], found)
    return found


def node_changes(draft: dict[int, dict[str, Any]], live: dict[int, dict[str, Any]]) -> dict[int, str]:
    """How each draft node differs from the published version's: new, changed, or moved (to
    another parent, or out of the order of the siblings it shares with the version: the fewest
    such nodes, so that adding, deleting or moving one node does not mark its siblings)."""
    changes: dict[int, str] = {}
    kept: dict[int | None, list[int]] = {}
    for node_id, item in draft.items():
        before = live.get(node_id)
        if before is None:
            changes[node_id] = "new"
            continue
        if any(item[key] != before[key] for key in SNAPSHOT_KEYS):
            changes[node_id] = "changed"
        if item["parent"] != before["parent"]:
            changes.setdefault(node_id, "moved")
        else:
            kept.setdefault(item["parent"], []).append(node_id)
    for siblings in kept.values():
        siblings.sort(key=lambda node_id: draft[node_id]["index"])
        in_order = longest_ordered([live[node_id]["index"] for node_id in siblings])
        for position, node_id in enumerate(siblings):
            if position not in in_order:
                changes.setdefault(node_id, "moved")
    return changes


def longest_ordered(values: list[int]) -> set[int]:
    """The positions of a longest increasing run of `values` (not necessarily adjacent)."""
    tail_values: list[int] = []  # per length, the smallest last value of a run that long so far
    tail_positions: list[int] = []
    previous = [-1] * len(values)
    for position, value in enumerate(values):
        length = bisect_left(tail_values, value)
        previous[position] = tail_positions[length - 1] if length else -1
        tail_values[length:length + 1] = [value]
        tail_positions[length:length + 1] = [position]
    kept, position = set(), tail_positions[-1] if tail_positions else -1
    while position >= 0:
        kept.add(position)
        position = previous[position]
    return kept
