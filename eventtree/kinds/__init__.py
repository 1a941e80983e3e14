"""Node kinds (action, background, delay, condition), declared as classes like action types.

`kind_registry.get(node.kind)` gives a kind's editor form, summary, package shape and checks;
`node_problems(node, field_types)` says what is wrong with one stored node, `node_label(node)`
how it is named. The kinds themselves
(`eventtree.kinds.action`, `.background`, `.delay`, `.condition`) are registered in
`EventTreeConfig.ready()`.
"""

from eventtree.kinds.base import BaseKind, Problem
from eventtree.kinds.registry import (
    AlreadyRegistered,
    KindRegistry,
    UnknownKind,
    kind_registry,
    node_field_names,
    node_field_renamed,
    node_label,
    node_problems,
    node_value_problems,
)

__all__ = [
    "AlreadyRegistered",
    "BaseKind",
    "KindRegistry",
    "Problem",
    "UnknownKind",
    "kind_registry",
    "node_field_names",
    "node_field_renamed",
    "node_label",
    "node_problems",
    "node_value_problems",
]
