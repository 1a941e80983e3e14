"""A CSV file's rows as a form's values (DESIGN §3.7): the upload form, the header's columns as
fields, and each row validated by the public form's RecordForm."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from eventtree.inputs.records import RecordForm
from eventtree.models import Field, FieldType

# A checkbox column's words (case aside); an empty cell is "no", as an unticked box.
CHECKBOX_YES = {"1", "true", "yes", "y", "on", "x"}
CHECKBOX_NO = {"", "0", "false", "no", "n", "off"}
# Delimiters a header may use; the one it holds most of wins, a comma when it holds none.
DELIMITERS = (",", ";", "\t")

Problem = dict[str, Any]  # {"line": 12, "errors": ["email: Enter a valid email address."]}


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="UTF-8, a header row naming the form's fields (by name or label), one record a row.",
    )

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        if upload.size > settings.EVENTTREE_IMPORT_MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {filesizeformat(settings.EVENTTREE_IMPORT_MAX_BYTES)}.")
        return upload


def header_delimiter(line: str) -> str:
    """The delimiter of a file whose first line is `line`."""
    counts = {delimiter: line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def header_columns(header: list[str], fields: list[Field]) -> tuple[list[str], list[str]]:
    """The field each column of `header` fills (named by its name or its label, case and
    surrounding spaces aside), and what is wrong with the header: an unknown or empty column, two
    columns for one field, a required field of the public form without a column."""
    by_name = {field.name.casefold(): field for field in fields}
    by_label: dict[str, Field] = {}
    for field in fields:
        by_label.setdefault(field.display_label.strip().casefold(), field)
    columns: list[str] = []
    problems: list[str] = []
    for number, title in enumerate((cell.strip() for cell in header), start=1):
        field = by_name.get(title.casefold()) or by_label.get(title.casefold())
        if not title:
            problems.append(f"Column {number} of the header has no name.")
        elif field is None:
            known = ", ".join(field.name for field in fields)
            problems.append(f"Unknown column “{title}”: the form has no such field (its fields: {known}).")
        elif field.name in columns:
            problems.append(f"Two columns fill the field “{field.name}”.")
        else:
            columns.append(field.name)
    missing = [field.name for field in fields if field.required and not field.internal and field.name not in columns]
    if missing:
        problems.append(f"The header has no column for the required field{'s' if len(missing) > 1 else ''} "
                        + ", ".join(f"“{name}”" for name in missing) + ".")
    return columns, problems


def row_clean(cells: list[str], *, columns: list[str], fields: dict[str, Field]) -> tuple[dict[str, Any], list[str]]:
    """A row's values as a record stores them, validated as the public form validates a submit,
    or the row's errors ("email: Enter a valid email address."). A checkbox takes yes/no words."""
    if len(cells) != len(columns):
        more = "more" if len(cells) > len(columns) else "fewer"
        return {}, [f"The row has {more} values than the header has columns ({len(columns)})."]
    data: dict[str, str] = {}
    errors: list[str] = []
    for name, cell in zip(columns, cells):
        if fields[name].type == FieldType.CHECKBOX:
            word = cell.strip().casefold()
            if word in CHECKBOX_YES:
                data[name] = "on"
            elif word not in CHECKBOX_NO:
                errors.append(f"{name}: “{cell[:40]}” is not yes or no.")
        else:
            data[name] = cell
    record_form = RecordForm(data, fields=[fields[name] for name in columns])
    if not record_form.is_valid():
        errors += [f"{name}: {message}" for name, messages in record_form.errors.items() for message in messages]
    return ({}, errors) if errors else (record_form.record_values(), [])
