"""The node kinds known to the engine and the editor, by key (DESIGN §7).

Kinds are registered in `EventTreeConfig.ready()`; tests build their own `KindRegistry`.
"""

from __future__ import annotations

import re

from eventtree.kinds.base import BaseKind, Node
from eventtree.registries import AlreadyRegistered, Registry

__all__ = ["AlreadyRegistered", "KindRegistry", "UnknownKind", "kind_registry", "node_label", "node_problems"]


class UnknownKind(LookupError):
    pass


class KindRegistry(Registry[BaseKind]):
    """Node kinds by key, in the order they were registered."""

    base = BaseKind
    key_pattern = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
    noun = "node kind"
    unknown = UnknownKind


kind_registry = KindRegistry()


def node_problems(node: Node, field_types: dict[str, str]) -> list[str]:
    """What is wrong with one stored node, not its children (`field_types`: its form's fields by
    name): an unknown kind or action type, an invalid config, a field the form lacks.

    Reads no database, so that the editor can mark every node and the engine can refuse a tree
    with an unconfigured node before it runs.
    """
    if node.kind not in kind_registry:
        return [f"unknown node kind {node.kind!r}"]
    return kind_registry.get(node.kind).node_problems(node, field_types)


def node_label(node: Node) -> str:
    """How the editor, the trace and the blocks name a node: its label, or what its kind says."""
    if node.label:
        return node.label
    if node.kind in kind_registry:
        return kind_registry.get(node.kind).display_label(node)
    return str(node.kind).capitalize()
