"""Writing a form package: the canonical form of a package is what `form_package_export` writes;
importing it and exporting again gives back the same package."""

from __future__ import annotations

from typing import Any

from eventtree.engine.trees import tree_load
from eventtree.kinds import kind_registry
from eventtree.kinds.condition import condition_export
from eventtree.models import Event, EventTree, Field, Form, Node, NodeKind
from eventtree.services.packages.format import FIELD_DEFAULTS, FORM_DEFAULTS


def form_package_export(*, form: Form) -> dict[str, Any]:
    """The package of `form`: its attributes, fields and trees, in position order."""
    form_data: dict[str, Any] = {"slug": form.slug, "name": form.name}
    for name, default in FORM_DEFAULTS.items():
        value = getattr(form, name)
        if value != default:
            form_data[name] = value
    form_data["fields"] = [field_export(item) for item in form.fields.order_by("position", "id")]
    trees = [tree_export(tree) for tree in form.trees.order_by("position", "id")]
    return {"form": form_data, "trees": trees}


def field_export(item: Field) -> dict[str, Any]:
    data: dict[str, Any] = {"name": item.name, "type": item.type}
    for name, default in FIELD_DEFAULTS.items():
        value = getattr(item, name)
        if value != default:
            data[name] = value
    return data


def tree_export(tree: EventTree) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": tree.name,
        "event": tree.event,
        "mode": tree.mode,
        "active": tree.active,
        "max_attempts": tree.max_attempts,
    }
    if tree.event == Event.SCHEDULED:
        data["cron"] = tree.cron
        if tree.filter:
            data["filter"] = condition_export(tree.filter)
    data["nodes"] = [node_export(node) for node in tree_load(tree.pk)]
    return data


def node_export(node: Node) -> dict[str, Any]:
    data = kind_registry.get(node.kind).package_node(node)
    children = [node_export(child) for child in node.child_nodes]
    # An action's children are its error port, which most actions do not have.
    if children or node.kind != NodeKind.ACTION:
        data["children"] = children
    return data
