"""The node kinds known to the engine and the editor, by key (DESIGN §7).

Kinds are registered in `EventTreeConfig.ready()`; tests build their own `KindRegistry`.
"""

from __future__ import annotations

import re
from typing import Any

from eventtree.kinds.base import BaseKind, Field, Node
from eventtree.registries import AlreadyRegistered, Registry

__all__ = [
    "AlreadyRegistered",
    "KindRegistry",
    "UnknownKind",
    "kind_registry",
    "node_field_names",
    "node_field_renamed",
    "node_label",
    "node_problems",
    "node_value_problems",
]


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


def node_value_problems(node: Node, fields: dict[str, Field]) -> list[str]:
    """What is wrong with a valid node's values against its form's `fields` by name (a condition
    value that is none of a choice field's choices): checked before a draft is published."""
    if node.kind not in kind_registry:
        return []
    return kind_registry.get(node.kind).value_problems(node, fields)


# A template's reference to a record value: `record.<field>`, then anything but more of a name.
RECORD_REFERENCE = re.compile(r"\brecord\.([A-Za-z_][A-Za-z0-9_]*)\b")


def node_field_names(node: Node) -> set[str]:
    """The fields of its form a node uses: those its config names, and those its templates read."""
    names = set()
    config = node.config or {}
    mapping_keys: tuple[str, ...] = ()
    if node.kind in kind_registry:
        kind = kind_registry.get(node.kind)
        names = {config[key] for key in kind.field_keys(node) if config.get(key)}
        mapping_keys = kind.field_mapping_keys(node)
        names.update(name for key in mapping_keys if isinstance(config.get(key), dict) for name in config[key])
    # A mapping's values are no templates (http_request's key paths in the answer).
    for text in config_strings({key: value for key, value in config.items() if key not in mapping_keys}):
        names.update(RECORD_REFERENCE.findall(text))
    return names


def node_field_renamed(node: Node, old: str, new: str) -> dict[str, Any]:
    """The node's config with the field `old` named `new`: in the keys that name a field and in
    every template that reads `record.<old>`."""
    keys = kind_registry.get(node.kind).field_keys(node) if node.kind in kind_registry else ()
    mapping_keys = kind_registry.get(node.kind).field_mapping_keys(node) if node.kind in kind_registry else ()
    pattern = re.compile(rf"\brecord\.{re.escape(old)}\b")

    def renamed(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(f"record.{new}", value)
        if isinstance(value, dict):
            return {key: renamed(item) for key, item in value.items()}
        if isinstance(value, list):
            return [renamed(item) for item in value]
        return value

    config = {key: value if key in mapping_keys else renamed(value) for key, value in (node.config or {}).items()}
    for key in keys:
        if config.get(key) == old:
            config[key] = new
    for key in mapping_keys:
        if isinstance(config.get(key), dict):
            config[key] = {new if name == old else name: item for name, item in config[key].items()}
    return config


def config_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in config_strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in config_strings(item)]
    return []
