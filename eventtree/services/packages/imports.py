"""Importing a form package: parse, validate, then create or replace the form in one transaction."""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction

from eventtree.engine.events import active_trees_forget
from eventtree.engine.values import field_default_clean
from eventtree.kinds import kind_registry
from eventtree.kinds.base import json_copy
from eventtree.kinds.condition import condition_config
from eventtree.models import Event, EventTree, Field, Form, Node, RunMode
from eventtree.services.packages.format import FIELD_DEFAULTS, FORM_DEFAULTS
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
    *, data: Any, replace: bool = False, slug: str | None = None, name: str | None = None
) -> Form:
    """Create the form of a package, or with `replace` overwrite the form with its slug.

    A `slug` and a `name` import it under those instead of the package's (a copy next to the
    form it was exported from). Raises PackageInvalid, having changed nothing, when the package
    or they do not validate, or (with `slug_taken`) when a form has the slug and `replace` is
    false. Replacing keeps the form's records, updates its fields in place and replaces all of
    its trees.
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
        form.trees.all().delete()
        for position, tree_data in enumerate(data.get("trees", [])):
            tree = EventTree.objects.create(
                form=form,
                position=position,
                name=tree_data["name"],
                event=tree_data.get("event", Event.SUBMITTED),
                mode=tree_data.get("mode", RunMode.SYNC),
                active=tree_data.get("active", True),
                max_attempts=tree_data.get("max_attempts", 3),
                cron=tree_data.get("cron", ""),
                filter=condition_config(tree_data["filter"]) if tree_data.get("filter") else None,
            )
            nodes_create(tree=tree, specs=tree_data.get("nodes", []))
        # Nodes are created in bulk, which sends no signal: forget the cached trees on commit.
        form_id = form.pk
        transaction.on_commit(lambda: active_trees_forget(form_id))
    return form


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


def nodes_create(*, tree: EventTree, specs: list[dict[str, Any]]) -> None:
    """Create the nodes of `specs` with one INSERT per level of the tree, not one per node."""
    level: list[tuple[Node | None, list[dict[str, Any]]]] = [(None, specs)]
    while level:
        created = [
            (Node(tree=tree, parent=parent, position=position, kind=spec["kind"],
                  action=spec.get("action", ""), label=spec.get("label", ""),
                  config=kind_registry.get(spec["kind"]).config_from_package(spec)),
             spec.get("children", []))
            for parent, items in level
            for position, spec in enumerate(items)
        ]
        # The parents' ids come back from the INSERT (PostgreSQL, SQLite 3.35+) for the next level.
        Node.objects.bulk_create([node for node, _ in created])
        level = [(node, children) for node, children in created if children]
