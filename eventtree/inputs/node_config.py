"""What the tree editor adds to each kind's config form (the kinds declare the forms, the engine
validates them; this only changes how they are typed): a <select> of the form's fields for every
config key that names a field, the variables a template may use, and a preview of each template
rendered against a sample record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.template import TemplateSyntaxError
from django.utils import timezone

from eventtree.actions.base import TemplateField, TemplateMappingField
from eventtree.engine.templating import render_value
from eventtree.models import EventTree, Field, FieldType, Node

MISSING = "(missing)"
TEMPLATE_FIELDS = (TemplateField, TemplateMappingField)
# What a template reads besides `record.<field>` (eventtree/engine/context.py: template_context).
OTHER_VARIABLES = [
    ("record.id", "the record's number"),
    ("record.created_at", "when it was submitted"),
    ("run.tree", "this tree's name"),
    ("run.event", "what fired it"),
    ("run.id", "the run's number"),
    ("flags.<name>", "a flag of the run, true once set"),
]


def node_auto_id(node: Node) -> str:
    """The ids of a node's edit form: one per node, so that two edit forms open at once have
    none in common (each label names its own input)."""
    return f"n{node.pk}-%s" if node.pk else "id_%s"


def field_pickers(form: forms.Form, keys: tuple[str, ...], fields: list[Field]) -> None:
    """Make each of `keys` (config keys that name a field) a <select> of `fields`. A value that
    names no field any more stays selectable, marked missing, so that opening the form loses
    nothing; saving it is refused as before (the kind's validation is unchanged)."""
    for key in keys:
        if key not in form.fields:
            continue
        field = form.fields[key]
        current = form.data.get(form.add_prefix(key)) if form.is_bound else form.initial.get(key, field.initial)
        current = "" if current is None else str(current)
        if isinstance(field, forms.ChoiceField):
            # The kind's own choices (a Delay's date fields and "the submit"), shown by name.
            options = [(value, text) for value, text in field.choices]
            known = {str(value) for value, _ in options}
            if "" not in known and field.required:
                options.insert(0, ("", "Choose a field…"))
        else:
            options = [("", "Choose a field…" if field.required else "(none)"),
                       *((item.name, field_option(item)) for item in fields)]
            known = {item.name for item in fields}
        if current and current not in known:
            options.append((current, f"{current} {MISSING}"))
        if isinstance(field, forms.ChoiceField):
            field.widget.choices = options  # the widget only: validation keeps the kind's choices
        else:
            field.widget = forms.Select(choices=options)
        field.widget.is_required = field.required


def field_option(field: Field) -> str:
    label = getattr(field, "label", "")
    return f"{field.name} · {label}" if label and label != field.name else field.name


def template_keys(form: forms.Form) -> list[str]:
    """The keys of the config form whose values are templates."""
    return [name for name, field in form.fields.items() if isinstance(field, TEMPLATE_FIELDS)]


def template_inputs_describe(form: forms.Form, variables_id: str) -> None:
    """Each template input says where its variables are listed (with its help text, if any)."""
    for key in template_keys(form):
        field = form.fields[key]
        described = [variables_id]
        if field.help_text:
            described.insert(0, (form.auto_id % form.add_prefix(key)) + "_helptext")
        field.widget.attrs["aria-describedby"] = " ".join(described)


def template_variables(fields: list[Field]) -> list[tuple[str, str]]:
    """What a template may read, as (name, what it is): each field (its name says it), then the
    rest."""
    return [(f"record.{field.name}", "") for field in fields] + OTHER_VARIABLES


def sample_record(fields: list[Field]) -> dict[str, Any]:
    """A record's values as a preview shows them: each field's default, or a value of its type
    (an internal field, which actions set, is absent, as in a record just submitted)."""
    now = timezone.localtime()
    values: dict[str, Any] = {}
    for field in fields:
        if field.default is not None:
            values[field.name] = field.default
        elif field.internal:
            continue
        elif field.type == FieldType.NUMBER:
            values[field.name] = 42
        elif field.type == FieldType.EMAIL:
            values[field.name] = "ada@example.com"
        elif field.type == FieldType.DATE:
            values[field.name] = now.date().isoformat()
        elif field.type == FieldType.DATETIME:
            values[field.name] = now.strftime("%Y-%m-%dT%H:%M")
        elif field.type == FieldType.CHECKBOX:
            values[field.name] = True
        elif field.type == FieldType.CHOICE:
            values[field.name] = str(field.choices[0]) if field.choices else ""
        else:
            values[field.name] = f"Sample {field.display_label.lower()}"
    return values


@dataclass
class Preview:
    """One template of a node's config, rendered: `text`, or `error` when it cannot be."""

    key: str
    label: str
    text: str = ""
    error: str = ""


def template_previews(form: forms.Form, *, tree: EventTree, fields: list[Field]) -> tuple[list[Preview], dict[str, Any]]:
    """The templates of a bound config form as typed (valid or not), each rendered against a
    sample record with the engine's restricted template engine; and that record's values."""
    values = sample_record(fields)
    context = {
        "record": {**values, "id": 1, "created_at": timezone.localtime()},
        "run": {"id": 1, "tree": tree.name, "event": tree.event},
        "flags": {},
    }
    previews = []
    for key in template_keys(form):
        field = form.fields[key]
        label = str(field.label or key.replace("_", " ").capitalize())
        raw = form.data.get(form.add_prefix(key), "")
        if isinstance(field, TemplateMappingField):
            previews.extend(mapping_previews(key, label, raw, context))
        else:
            previews.append(rendered(Preview(key, label), str(raw), context))
    return previews, values


def mapping_previews(key: str, label: str, raw: str, context: dict[str, Any]) -> list[Preview]:
    if not str(raw).strip():
        return []
    try:
        mapping = json.loads(raw)
    except ValueError:
        return [Preview(key, label, error="Not valid JSON: expected an object of name: template pairs.")]
    if not isinstance(mapping, dict):
        return [Preview(key, label, error="Expected an object of name: template pairs.")]
    return [rendered(Preview(key, f"{label}: {name}"), "" if value is None else str(value), context)
            for name, value in mapping.items()]


def rendered(preview: Preview, text: str, context: dict[str, Any]) -> Preview:
    try:
        preview.text = render_value(text, context)
    except TemplateSyntaxError as exc:
        preview.error = f"Template error: {exc}"
    except Exception as exc:  # a filter that fails on the sample value: said, never raised
        preview.error = f"Could not render it: {exc}"
    return preview
