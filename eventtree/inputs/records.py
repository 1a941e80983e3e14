"""The public form of a Form: a Django form built from its non-internal fields."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from eventtree.engine.values import to_json_value
from eventtree.models import Field, FieldType


def form_field_for(field: Field) -> forms.Field:
    common: dict[str, Any] = {
        "label": field.display_label,
        "required": field.required,
        "help_text": field.help_text,
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
    """A form whose fields come from stored Field rows."""

    def __init__(self, *args: Any, fields: Iterable[Field], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in fields:
            self.fields[field.name] = form_field_for(field)

    def record_values(self) -> dict[str, Any]:
        """The cleaned values as a record stores them (JSON)."""
        return {name: to_json_value(value) for name, value in self.cleaned_data.items()}
