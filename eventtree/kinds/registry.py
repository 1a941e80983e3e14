"""The node kinds known to the engine and the editor, by key (DESIGN §7).

Kinds are registered in `EventTreeConfig.ready()`; tests build their own `KindRegistry`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from eventtree.kinds.base import BaseKind, Node

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


class AlreadyRegistered(Exception):
    pass


class UnknownKind(LookupError):
    pass


class KindRegistry:
    """Node kinds by key, in the order they were registered."""

    def __init__(self) -> None:
        self._kinds: dict[str, BaseKind] = {}

    def register(self, kind_class: type[BaseKind]) -> type[BaseKind]:
        if not (isinstance(kind_class, type) and issubclass(kind_class, BaseKind)):
            raise TypeError(f"{kind_class!r} is not a subclass of BaseKind")
        key = getattr(kind_class, "key", None)
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise ValueError(f"{kind_class.__name__}.key must be a lower-case identifier of at most 16 characters")
        if not getattr(kind_class, "label", None):
            raise ValueError(f"{kind_class.__name__} needs a label")
        if key in self._kinds:
            raise AlreadyRegistered(f"A node kind with key {key!r} is already registered")
        self._kinds[str(key)] = kind_class()
        return kind_class

    def get(self, key: str) -> BaseKind:
        try:
            return self._kinds[key]
        except KeyError:
            raise UnknownKind(f"Unknown node kind {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._kinds

    def __iter__(self) -> Iterator[BaseKind]:
        return iter(list(self._kinds.values()))

    def keys(self) -> list[str]:
        return list(self._kinds)


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
