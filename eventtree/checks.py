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
    """Nodes of the live versions whose kind or action type no longer exists, or whose config no
    longer validates; fields whose name or default a form can no longer take. (Drafts are the
    builder's work in progress: the editor shows their problems, and Publish refuses them.)"""
    if not databases:
        return []
    from eventtree.engine.trees import subtree_iter
    from eventtree.engine.versions import version_build
    from eventtree.models import EventTree, Field

    errors: list[CheckMessage] = []
    try:
        field_types: dict[int, dict[str, str]] = {}
        for item in Field.objects.select_related("form"):
            field_types.setdefault(item.form_id, {})[item.name] = item.type
            errors.extend(field_errors(item))
        for tree in EventTree.objects.filter(published__isnull=False).select_related("form", "published"):
            for node in subtree_iter(version_build(tree.pk, tree.published.nodes)):
                errors.extend(node_errors(tree, node, field_types.get(tree.form_id, {})))
    except DatabaseError:  # not migrated yet
        return []
    return errors


def node_errors(tree: Any, node: Any, field_types: dict[str, str]) -> list[CheckMessage]:
    from eventtree.models import NodeKind

    where = (f"node {node.pk} of tree {tree.name!r} (form {tree.form.slug!r}, "
             f"live version {tree.published.number})")
    if node.kind not in kind_registry:
        return [Error(f"{where} is of the unknown kind {node.kind!r}.", obj=tree,
                      hint="Remove the node from the draft and publish, or install the app that "
                      "registers its kind.", id="eventtree.E003")]
    if node.kind == NodeKind.ACTION and node.action not in registry:
        return [Error(f"{where} uses the unknown action type {node.action!r}.", obj=tree,
                      hint="Remove the node from the draft and publish, or install the app that "
                      "registers its type.", id="eventtree.E001")]
    return [Error(f"{where}: {problem}", obj=tree, hint="Edit the node in the builder and publish.",
                  id="eventtree.E002")
            for problem in node_problems(node, field_types)]


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
