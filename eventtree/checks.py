"""System checks over stored forms and trees (run with `manage.py check --database default`).

Registered in `EventTreeConfig.ready()`.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error
from django.db import DatabaseError

from eventtree.actions.registry import registry
from eventtree.engine.values import field_default_clean, field_name_problem
from eventtree.kinds import kind_registry, node_problems


def check_stored_trees(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Nodes whose kind or action type no longer exists, or whose config no longer validates;
    fields whose name or default a form can no longer take."""
    if not databases:
        return []
    from eventtree.models import Field, Node, NodeKind

    errors: list[CheckMessage] = []
    try:
        field_types: dict[int, dict[str, str]] = {}
        for item in Field.objects.select_related("form"):
            field_types.setdefault(item.form_id, {})[item.name] = item.type
            errors.extend(field_errors(item))
        for node in Node.objects.select_related("tree__form"):
            where = f"node {node.pk} of tree {node.tree.name!r} (form {node.tree.form.slug!r})"
            if node.kind not in kind_registry:
                errors.append(Error(f"{where} is of the unknown kind {node.kind!r}.", obj=node,
                                    hint="Delete the node, or install the app that registers its kind.",
                                    id="eventtree.E003"))
            elif node.kind == NodeKind.ACTION and node.action not in registry:
                errors.append(Error(f"{where} uses the unknown action type {node.action!r}.", obj=node,
                                    hint="Delete the node, or install the app that registers its type.",
                                    id="eventtree.E001"))
            else:
                errors.extend(
                    Error(f"{where}: {problem}", obj=node, hint="Edit the node in the builder.", id="eventtree.E002")
                    for problem in node_problems(node, field_types.get(node.tree.form_id, {}))
                )
    except DatabaseError:  # not migrated yet
        return []
    return errors


def field_errors(item: Any) -> list[CheckMessage]:
    where = f"field {item.name!r} of form {item.form.slug!r}"
    errors: list[CheckMessage] = []
    reserved = field_name_problem(item.name)
    if reserved:
        errors.append(Error(f"{where}: {reserved}", obj=item, hint="Rename the field in the builder.",
                            id="eventtree.E004"))
    try:
        field_default_clean(item.type, item.default)
    except ValueError as exc:
        errors.append(Error(f"{where}: invalid default: {exc}", obj=item,
                            hint="Change or clear the default in the builder.", id="eventtree.E005"))
    return errors
