"""Importing a form package: parse, validate, then create or replace the form in one transaction."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from eventtree.engine.events import active_trees_forget
from eventtree.engine.trees import draft_problems, tree_load
from eventtree.engine.values import field_default_clean
from eventtree.engine.versions import version_snapshot
from eventtree.kinds import kind_registry
from eventtree.kinds.base import json_copy
from eventtree.kinds.condition import condition_config
from eventtree.models import Event, EventTree, Field, Form, Node, RunMode
from eventtree.services.packages.format import FIELD_DEFAULTS, FORM_DEFAULTS
from eventtree.services.versions import version_create
from eventtree.services.packages.validation import (
    PackageInvalid,
    form_overrides_validate,
    form_package_validate,
)


def form_package_load(text: str) -> Any:
    """Parse the text of a package, or raise PackageInvalid saying where the JSON is broken.

    NaN and Infinity, which Python's JSON reader accepts, are refused: they are not JSON, and a
    record cannot store them.
    """
    try:
        return json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        raise PackageInvalid(
            [f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"]
        ) from None
    except RecursionError:
        raise PackageInvalid(["not valid JSON: nested too deeply"]) from None


def refuse_constant(name: str) -> Any:
    raise PackageInvalid([f"not valid JSON: {name} is not a number JSON allows"])


def form_package_import(
    *,
    data: Any,
    replace: bool = False,
    slug: str | None = None,
    name: str | None = None,
    draft: bool = False,
    user: AbstractBaseUser | None = None,
) -> Form:
    """Create the form of a package, or with `replace` overwrite the form with its slug, and
    publish each of its trees as a new version (unless `draft`: then only the drafts change).

    A `slug` and a `name` import it under those instead of the package's (a copy next to the
    form it was exported from). Raises PackageInvalid, having changed nothing, when the package
    or they do not validate, or (with `slug_taken`) when a form has the slug and `replace` is
    false. Replacing keeps the form's records, updates its fields in place, and gives each tree
    of the package's the tree of the form with the same name (its draft replaced, its run history
    kept); the form's other trees are made inactive, not deleted.
    """
    problems = form_package_validate(data) or form_overrides_validate(slug=slug, name=name)
    if problems:
        raise PackageInvalid(problems)
    form_data = data["form"]
    slug_path, slug = ("form.slug", form_data["slug"]) if slug is None else ("slug", slug)
    with transaction.atomic():
        form = Form.objects.select_for_update().filter(slug=slug).first()
        if form is None:
            form = Form(slug=slug)
        elif not replace:
            raise PackageInvalid([f"{slug_path}: a form with slug {slug!r} already exists"], slug_taken=slug)
        form.name = form_data["name"] if name is None else name
        for attribute, default in FORM_DEFAULTS.items():
            setattr(form, attribute, json_copy(form_data.get(attribute, default)))
        form.save()
        fields_replace(form=form, specs=form_data.get("fields", []))
        trees_replace(form=form, specs=data.get("trees", []), draft=draft, user=user)
        # Nodes are created in bulk, which sends no signal: forget the cached trees on commit.
        form_id = form.pk
        transaction.on_commit(lambda: active_trees_forget(form_id))
    return form


def trees_replace(
    *, form: Form, specs: list[dict[str, Any]], draft: bool, user: AbstractBaseUser | None
) -> None:
    """Call inside `atomic`: make the form's trees those of `specs`, matched by name."""
    existing: dict[str, list[EventTree]] = {}
    for tree in form.trees.select_for_update().order_by("position", "id"):
        existing.setdefault(tree.name, []).append(tree)
    kept = []
    fields = {field.name: field for field in form.fields.all()}
    for position, spec in enumerate(specs):
        same_name = existing.get(spec["name"], [])
        tree = same_name.pop(0) if same_name else EventTree(form=form, name=spec["name"])
        tree.position = position
        tree.event = spec.get("event", Event.SUBMITTED)
        tree.mode = spec.get("mode", RunMode.SYNC)
        tree.active = spec.get("active", True)
        tree.max_attempts = spec.get("max_attempts", 3)
        tree.cron = spec.get("cron", "")
        tree.filter = condition_config(spec["filter"]) if spec.get("filter") else None
        tree.save()
        kept.append(tree.pk)
        Node.objects.filter(tree=tree).delete()
        paths = nodes_create(tree=tree, specs=spec.get("nodes", []), path=f"trees[{position}].nodes")
        roots = tree_load(tree.pk)
        problems = draft_problems(roots, fields)
        if problems:
            raise PackageInvalid([f"{paths[pk]}: {problem}" for pk, found in problems.items() for problem in found])
        if not draft:
            version_create(tree=tree, snapshot=version_snapshot(roots), user=user, note="Imported from a package")
    for position, tree in enumerate(form.trees.exclude(pk__in=kept).order_by("position", "id"), len(specs)):
        tree.active, tree.position = False, position
        tree.save(update_fields=["active", "position", "updated_at"])


def fields_replace(*, form: Form, specs: list[dict[str, Any]]) -> None:
    """Make the form's fields those of `specs`, in order; records keep their values."""
    existing = {item.name: item for item in form.fields.all()}
    wanted = {spec["name"] for spec in specs}
    form.fields.exclude(name__in=wanted).delete()
    for position, spec in enumerate(specs):
        item = existing.get(spec["name"]) or Field(form=form, name=spec["name"])
        item.type = spec["type"]
        item.position = position
        for name, default in FIELD_DEFAULTS.items():
            setattr(item, name, json_copy(spec.get(name, default)))
        item.default = field_default_clean(item.type, spec.get("default"))
        item.save()


def nodes_create(*, tree: EventTree, specs: list[dict[str, Any]], path: str = "nodes") -> dict[int, str]:
    """Create the nodes of `specs` with one INSERT per level of the tree, not one per node.
    Returns each new node's place in the package (`trees[0].nodes[1].children[0]`) by id."""
    level: list[tuple[Node | None, str, list[dict[str, Any]]]] = [(None, path, specs)]
    paths = {}
    while level:
        created = [
            (Node(tree=tree, parent=parent, position=position, kind=spec["kind"],
                  action=spec.get("action", ""), label=spec.get("label", ""),
                  config=kind_registry.get(spec["kind"]).config_from_package(spec)),
             f"{parent_path}[{position}]", spec.get("children", []))
            for parent, parent_path, items in level
            for position, spec in enumerate(items)
        ]
        # The parents' ids come back from the INSERT (PostgreSQL, SQLite 3.35+) for the next level.
        Node.objects.bulk_create([node for node, _, _ in created])
        paths.update((node.pk, node_path) for node, node_path, _ in created)
        level = [(node, f"{node_path}.children", children) for node, node_path, children in created if children]
    return paths
