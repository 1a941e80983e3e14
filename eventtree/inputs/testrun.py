"""What a test run starts from (DESIGN §3.9): an existing record of the form, or sample values
cleaned as the public form cleans a submit."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.text import Truncator

from eventtree.inputs.records import RecordForm
from eventtree.models import Field, Record

SAMPLE_PREFIX = "sample"
SCALARS = (str, int, float, bool)


class TestRunSourceForm(forms.Form):
    """Which record to run against: none (a new sample record), or one of `records`. Without
    `records` (a builder who may not view records) there is nothing to choose."""

    __test__ = False

    record = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Record",
        help_text="Run on a record as it is now, or leave this and fill in sample values below.",
    )

    def __init__(self, *args: Any, records: list[Record] | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.records = {record.pk: record for record in records or []}
        if not self.records:
            del self.fields["record"]
        else:
            self.fields["record"].choices = [("", "New sample record (below)"),
                                             *((pk, record_label(record)) for pk, record in self.records.items())]

    def chosen_record(self) -> Record | None:
        return self.records.get(self.cleaned_data.get("record"))


class TestRunInput:
    """The test run panel's input: the record to start from, else the sample values (whose
    errors count only when no record is chosen)."""

    __test__ = False

    def __init__(self, data: Any = None, *, fields: list[Field], records: list[Record] | None) -> None:
        self.source = TestRunSourceForm(data, records=records)
        self.sample = RecordForm(data, fields=fields, prefix=SAMPLE_PREFIX)

    def is_valid(self) -> bool:
        return self.source.is_valid() and (self.source.chosen_record() is not None or self.sample.is_valid())

    def record(self) -> Record | None:
        return self.source.chosen_record()

    def values(self) -> dict[str, Any] | None:
        """The sample values as a record stores them; call after `is_valid`."""
        return None if self.record() is not None else self.sample.record_values()


def sample_values_from_json(
    *, values: Any, fields: list[Field], partial: bool = False
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Sample values from JSON (the command line's `--values`), cleaned as the public form cleans
    a submit; `partial`: only the fields given, as an edit of an existing record. `fields` are
    the form's fields. Returns the values, or the errors by field name."""
    if not isinstance(values, dict):
        return {}, {"__all__": ["Expected a JSON object of field names and values."]}
    errors: dict[str, list[str]] = {}
    known = {field.name: field for field in fields}
    for name, value in values.items():
        if name not in known:
            errors[name] = ["The form has no such field."]
        elif known[name].internal:
            errors[name] = ["An internal field: actions set it, a submit cannot."]
        elif value is not None and not isinstance(value, SCALARS):
            errors[name] = ["Expected text, a number, or true or false."]
    public = [field for field in fields if not field.internal and (field.name in values or not partial)]
    form = RecordForm({name: "" if value is None else value for name, value in values.items()}, fields=public)
    if not form.is_valid():
        errors.update({name: list(messages) for name, messages in form.errors.items() if name not in errors})
    return ({} if errors else form.record_values()), errors


def record_label(record: Record) -> str:
    """How the record picker names a record: its number, when it came, its first value."""
    first = next((str(value) for value in record.values.values() if value not in (None, "", [])), "")
    when = timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M")
    return " · ".join(part for part in (f"#{record.pk}", when, Truncator(first).chars(40)) if part)
