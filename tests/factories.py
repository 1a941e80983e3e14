"""Builders for forms and trees in tests. A node spec uses the form package's shape (DESIGN §5)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from eventtree.engine.trees import tree_load
from eventtree.engine.versions import version_snapshot
from eventtree.models import EventTree, Field, Form, Node, NodeKind, TreeVersion
from eventtree.services.trees import tree_locked
from eventtree.services.versions import version_create

CONTAINER_KEYS = ("seconds", "field", "offset_seconds", "op", "value")


def form_create(slug: str = "membership", *, fields: list[dict[str, Any]] | None = None, **kwargs: Any) -> Form:
    form = Form.objects.create(slug=slug, name=kwargs.pop("name", slug.capitalize()), **kwargs)
    for position, spec in enumerate(fields or [{"name": "name", "required": True}]):
        Field.objects.create(form=form, position=position, **spec)
    return form


def tree_create(form: Form, nodes: list[dict[str, Any]], *, publish: bool = True, **kwargs: Any) -> EventTree:
    """A tree with `nodes` as its draft, published as version 1 unless `publish` is false (as it
    is, unchecked: tests of what runs when a node does not validate need that)."""
    tree = EventTree.objects.create(form=form, name=kwargs.pop("name", "On submit"), **kwargs)
    nodes_create(tree, nodes, parent=None)
    if publish:
        tree_publish_unchecked(tree)
        tree.refresh_from_db()
    return tree


def tree_publish_unchecked(tree: EventTree) -> TreeVersion:
    with transaction.atomic():
        return version_create(tree=tree_locked(tree.pk), snapshot=version_snapshot(tree_load(tree.pk)), user=None)


def nodes_create(tree: EventTree, specs: list[dict[str, Any]], parent: Node | None) -> None:
    for position, spec in enumerate(specs):
        spec = dict(spec)
        children = spec.pop("children", [])
        kind = spec.pop("kind")
        if kind == NodeKind.ACTION:
            config = spec.pop("config", {})
        else:
            config = {key: spec.pop(key) for key in CONTAINER_KEYS if key in spec}
        node = Node.objects.create(
            tree=tree,
            parent=parent,
            position=position,
            kind=kind,
            action=spec.pop("action", ""),
            label=spec.pop("label", ""),
            config=config,
        )
        nodes_create(tree, children, parent=node)


def action(key: str, children: list[dict[str, Any]] | None = None, **config: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": "action", "action": key, "config": config}
    if children:
        spec["children"] = children
    return spec


def set_field(field: str, value: str, **kwargs: Any) -> dict[str, Any]:
    return action("set_field", field=field, value=value, **kwargs)


REFERENCE_FIELDS = [
    {"name": "name", "type": "text", "required": True},
    {"name": "email", "type": "email", "required": True},
    *({"name": f"field_{letter}", "type": "text", "internal": True} for letter in "abcd"),
]


def reference_tree_nodes() -> list[dict[str, Any]]:
    """The reference tree of DESIGN §3.2."""
    return [
        set_field("field_a", "A:{{ record.name }}"),
        {
            "kind": "background",
            "label": "Slow part",
            "children": [
                set_field("field_b", "B"),
                set_field("field_c", "C"),
                action("send_email", to="{{ record.email }}", subject="Welcome {{ record.name }}",
                       body="Hello {{ record.name }}, field_a is {{ record.field_a }}."),
            ],
        },
        set_field("field_d", "D"),
    ]
