"""The public form of a Form: a Django form built from its non-internal fields."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.html import escape

from eventtree.engine.values import to_json_value
from eventtree.models import Field, FieldType


def form_field_for(field: Field, *, track_changes: bool = False) -> forms.Field:
    common: dict[str, Any] = {
        "label": field.display_label,
        "required": field.required,
        # Django renders help texts unescaped; a builder's help text is text, never HTML.
        "help_text": escape(field.help_text),
        # A hidden copy of the value shown, so that `changed_data` compares with what the person saw.
        "show_hidden_initial": track_changes,
    }
    if field.default is not None:
        common["initial"] = field.default
    if field.type == FieldType.TEXTAREA:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=10000, **common)
    if field.type == FieldType.NUMBER:
        return forms.DecimalField(max_digits=20, decimal_places=6, **common)
    if field.type == FieldType.EMAIL:
        return forms.EmailField(**common)
    if field.type == FieldType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if field.type == FieldType.DATETIME:
        return forms.DateTimeField(
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            **common,
        )
    if field.type == FieldType.CHECKBOX:
        return forms.BooleanField(**common)
    if field.type == FieldType.CHOICE:
        # An empty first option, so that nobody submits the first choice without choosing it.
        choices = [("", "Choose…"), *((str(choice), str(choice)) for choice in field.choices or [])]
        return forms.ChoiceField(choices=choices, **common)
    return forms.CharField(max_length=1000, **common)


class RecordForm(forms.Form):
    """A form whose fields come from stored Field rows.

    With `track_changes`, each field carries a hidden copy of its initial value, and
    `changed_record_values()` gives only what the person changed since the page was shown.
    """

    def __init__(self, *args: Any, fields: Iterable[Field], track_changes: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in fields:
            self.fields[field.name] = form_field_for(field, track_changes=track_changes)

    def record_values(self) -> dict[str, Any]:
        """The cleaned values as a record stores them (JSON)."""
        return {name: to_json_value(value) for name, value in self.cleaned_data.items()}

    def changed_record_values(self) -> dict[str, Any]:
        """The cleaned values of the fields whose value differs from the one shown."""
        return {name: to_json_value(self.cleaned_data[name]) for name in self.changed_data}
