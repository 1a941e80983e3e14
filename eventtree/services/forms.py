"""Editing forms and their fields. A field renamed or deleted under the trees that use it must
not stop the live form: a rename carries over to the live versions, a deletion is refused while
one uses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max

from eventtree.engine.form_cache import form_forget
from eventtree.engine.trees import nodes_using_field, tree_load
from eventtree.engine.versions import version_build, version_snapshot
from eventtree.kinds import kind_registry, node_field_renamed, node_label
from eventtree.models import Event, EventTree, Field, Form, Node
from eventtree.services.trees import tree_locked
from eventtree.services.versions import version_create


class FieldInUse(Exception):
    """A live version uses the field: the message names the trees and the nodes."""


def form_create(*, name: str, slug: str) -> Form:
    return Form.objects.create(name=name, slug=slug)


def form_update(*, form: Form, **values: Any) -> Form:
    for name, value in values.items():
        setattr(form, name, value)
    form.save()
    return form


def form_delete(*, form: Form) -> None:
    """Delete a form with its fields, trees, records and run history."""
    form.delete()


def field_add(*, form: Form, **values: Any) -> Field:
    with transaction.atomic():
        Form.objects.select_for_update().get(pk=form.pk)
        position = (form.fields.aggregate(top=Max("position"))["top"] or 0) + 1
        return Field.objects.create(form=form, position=position, **values)


def field_update(
    *, field: Field, update_drafts: bool = True, user: AbstractBaseUser | None = None, **values: Any
) -> Field:
    """Change a field. A new name is carried into every published version that uses the old one
    (each becomes a new version with only that change), and with `update_drafts` into the nodes
    of the drafts too; record values keep their old key."""
    with transaction.atomic():
        Form.objects.select_for_update().get(pk=field.form_id)
        old_name = Field.objects.values_list("name", flat=True).get(pk=field.pk)
        for name, value in values.items():
            setattr(field, name, value)
        field.save()
        if field.name != old_name:
            trees_field_rename(form_id=field.form_id, old=old_name, new=field.name,
                               update_drafts=update_drafts, user=user)
    return field


def trees_field_rename(*, form_id: int, old: str, new: str, update_drafts: bool,
                       user: AbstractBaseUser | None) -> None:
    """Call inside `atomic`, with the form row locked."""
    for tree_id in EventTree.objects.filter(form_id=form_id).values_list("pk", flat=True):
        tree = tree_locked(tree_id)
        if tree.filter and tree.filter.get("field") == old:  # a scheduled tree's record filter
            tree.filter = {**tree.filter, "field": new}
            tree.save(update_fields=["filter", "updated_at"])
        if tree.published_id:
            roots = version_build(tree.pk, tree.published.nodes)
            using = nodes_using_field(roots, old)
            for node in using:
                node.config = node_field_renamed(node, old, new)
            if using:
                version_create(tree=tree, snapshot=version_snapshot(roots), user=user,
                               note=f"Field {old} renamed to {new}")
        if update_drafts:
            using = nodes_using_field(tree_load(tree.pk), old)
            for node in using:
                node.config = node_field_renamed(node, old, new)
            Node.objects.bulk_update(using, ["config"])


@dataclass(frozen=True)
class FieldUse:
    """The nodes of one tree's live version that use a field."""

    tree: EventTree
    nodes: tuple[str, ...]

    def __str__(self) -> str:
        return f"“{self.tree.name}” (live version {self.tree.published.number}): {', '.join(self.nodes)}"


def field_live_uses(*, field: Field) -> list[FieldUse]:
    """Where the live versions of the form's active trees use the field: one query."""
    uses = []
    trees = EventTree.objects.filter(form_id=field.form_id, active=True, published__isnull=False)
    for tree in trees.select_related("published"):
        nodes = nodes_using_field(version_build(tree.pk, tree.published.nodes), field.name)
        named = tuple(node_named(node) for node in nodes)
        if tree.event == Event.SCHEDULED and (tree.filter or {}).get("field") == field.name:
            named += ("its record filter",)
        if named:
            uses.append(FieldUse(tree=tree, nodes=named))
    return uses


def node_named(node: Node) -> str:
    """A node as a message names it: its label, or what it does (two unlabelled set_field nodes
    are told apart by their summaries)."""
    if node.label or node.kind not in kind_registry:
        return node_label(node)
    return kind_registry.get(node.kind).node_summary(node)


def field_delete(*, field: Field) -> None:
    """Delete a field; raise FieldInUse, changing nothing, while the live version of an active
    tree uses it (its submits would stop running that tree). A draft that uses it is flagged on
    the form's page and in the editor, and Publish refuses it."""
    with transaction.atomic():
        Form.objects.select_for_update().get(pk=field.form_id)
        live = field_live_uses(field=field)
        if live:
            raise FieldInUse(
                f"The field {field.name} is used by " + "; ".join(str(use) for use in live)
                + ". Change those nodes and publish, or make the tree inactive, before deleting it."
            )
        field.delete()


def field_move(*, field: Field, offset: int) -> None:
    """Move a field up (-1) or down (+1) among its form's fields."""
    with transaction.atomic():
        form = Form.objects.select_for_update().get(pk=field.form_id)
        fields = list(Field.objects.filter(form_id=field.form_id).order_by("position", "id"))
        index = next(i for i, item in enumerate(fields) if item.pk == field.pk)
        target = max(0, min(len(fields) - 1, index + offset))
        fields.insert(target, fields.pop(index))
        for position, item in enumerate(fields):
            item.position = position
        Field.objects.bulk_update(fields, ["position"])
        # A bulk update sends no signal: the cached form (its fields' order) is forgotten here.
        transaction.on_commit(lambda: form_forget(form_id=form.pk, slugs={form.slug}), robust=True)
