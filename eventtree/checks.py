"""System checks over stored trees (run with `manage.py check --database default`)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.db import DatabaseError

from eventtree.actions.registry import registry


@register(Tags.database)
def check_stored_actions(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not databases:
        return []
    from eventtree.models import Field, Node, NodeKind

    errors: list[CheckMessage] = []
    try:
        field_names: dict[int, set[str]] = {}
        for form_id, name in Field.objects.values_list("form_id", "name"):
            field_names.setdefault(form_id, set()).add(name)
        nodes = Node.objects.filter(kind=NodeKind.ACTION).select_related("tree__form")
        for node in nodes:
            where = f"node {node.pk} of tree {node.tree.name!r} (form {node.tree.form.slug!r})"
            if node.action not in registry:
                errors.append(
                    Error(f"{where} uses the unknown action type {node.action!r}.", id="eventtree.E001")
                )
                continue
            problems = registry.get(node.action).config_errors(
                node.config, field_names=field_names.get(node.tree.form_id, set())
            )
            errors.extend(
                Error(f"{where}: {problem}", id="eventtree.E002") for problem in problems
            )
    except DatabaseError:  # not migrated yet
        return []
    return errors
