"""Record values: JSON-safe conversion of form input and of action output, by field type."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from eventtree.actions.base import ActionFailed
from eventtree.models import Field, FieldType

TRUE_WORDS = {"1", "true", "yes", "on", "y", "t"}
FALSE_WORDS = {"0", "false", "no", "off", "n", "f", ""}


def to_json_value(value: Any) -> Any:
    """Convert a cleaned form value to what a record stores."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def coerce_value(field: Field, raw: Any) -> Any:
    """Convert a rendered template to the type of `field`, or raise ActionFailed."""
    if not isinstance(raw, str):
        return to_json_value(raw)
    text = raw.strip()
    try:
        if field.type == FieldType.NUMBER:
            return None if text == "" else to_json_value(float(text))
        if field.type == FieldType.CHECKBOX:
            if text.lower() in TRUE_WORDS:
                return True
            if text.lower() in FALSE_WORDS:
                return False
            raise ValueError(text)
        if field.type == FieldType.DATE and text:
            parsed = parse_date(text)
            if parsed is None:
                raise ValueError(text)
            return parsed.isoformat()
        if field.type == FieldType.DATETIME and text:
            parsed = parse_datetime(text)
            if parsed is None:
                raise ValueError(text)
            return parsed.isoformat()
    except ValueError:
        raise ActionFailed(
            f"{text!r} is not a valid {field.get_type_display().lower()} for field {field.name!r}"
        ) from None
    return raw


def value_as_moment(value: Any) -> dt.datetime | None:
    """A stored date or datetime value as an aware datetime (a date means its midnight)."""
    if not value or not isinstance(value, str):
        return None
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            return None
        moment = dt.datetime.combine(day, dt.time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
