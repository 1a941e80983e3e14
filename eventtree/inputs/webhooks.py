"""The body of a webhook request (DESIGN §3.13): a JSON object of field values, validated by the
same RecordForm as the public form, so that a value refused there is refused here too."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.forms.utils import ErrorDict

from eventtree.inputs.records import RecordForm
from eventtree.models import Field

# The key of the errors that concern the whole body, not one field (Django's NON_FIELD_ERRORS).
WHOLE_BODY = "__all__"
SCALARS = (str, int, float, bool)


class BodyInvalid(Exception):
    """The body is not what a webhook takes; `errors` is {field or "__all__": [messages]}."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def webhook_values(body: bytes, *, fields: Iterable[Field]) -> dict[str, Any]:
    """The record values in `body`, cleaned like the public form's (the visitor's fields only).

    Raises BodyInvalid when the body is not a JSON object, names a field the public form does not
    have, holds a value that is not a single text, number, boolean or null, or fails the form's
    validation.
    """
    data = json_object(body)
    record_form = RecordForm(data_for_form(data), fields=fields)
    errors: dict[str, list[str]] = {
        name: ["This form has no such field."] for name in data if name not in record_form.fields
    }
    errors.update({
        name: ["Enter a single value: text, a number, true, false or null."]
        for name, value in data.items()
        if name in record_form.fields and value is not None and not isinstance(value, SCALARS)
    })
    if errors:
        raise BodyInvalid(errors)
    if not record_form.is_valid():
        raise BodyInvalid(error_messages(record_form.errors))
    return record_form.record_values()


def json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError):
        raise BodyInvalid({WHOLE_BODY: ["The body is not valid JSON."]}) from None
    if not isinstance(data, dict):
        raise BodyInvalid({WHOLE_BODY: ["The body must be a JSON object of field values."]})
    return data


def refuse_constant(name: str) -> None:
    # NaN and Infinity are not JSON, though Python's parser takes them.
    raise ValueError(name)


def data_for_form(data: dict[str, Any]) -> dict[str, Any]:
    """`data` as the form's widgets read a POST: each value as text, except booleans (a checkbox
    reads true and false) and null (no value)."""
    return {
        name: value if value is None or isinstance(value, bool) else str(value)
        for name, value in data.items()
        if isinstance(value, SCALARS) or value is None
    }


def error_messages(errors: ErrorDict) -> dict[str, list[str]]:
    return {name: [str(message) for message in messages] for name, messages in errors.items()}
