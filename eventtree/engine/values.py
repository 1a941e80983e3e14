"""Record values: JSON-safe conversion of form input and of action output, by field type.

Also what a field may hold by default (`field_default_clean`) and which names a field may not
take (`RESERVED_FIELD_NAMES`), so that the builder, packages and records follow one set of rules.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from eventtree.errors import ActionFailed
from eventtree.models import Field, FieldType

TRUE_WORDS = {"1", "true", "yes", "on", "y", "t"}
FALSE_WORDS = {"0", "false", "no", "off", "n", "f", ""}

# Names a field cannot take: the public form's CSRF token (a field of that name makes every
# submit fail), and the keys that templates add to `record` next to the field values.
RESERVED_FIELD_NAMES = frozenset({"csrfmiddlewaretoken", "id", "created_at"})


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


def number_clean(value: Any) -> int | float:
    """A finite number from a number or its text, or ValueError: a record stores no NaN or Infinity
    (databases refuse them in JSON)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("expected a number")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except OverflowError:
        raise ValueError(f"{value!r} is too large a number") from None
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    if isinstance(value, int):
        return value
    return int(number) if number.is_integer() else number


def field_name_problem(name: str) -> str | None:
    """Why a field cannot be named `name` (a reserved name), or None."""
    if name in RESERVED_FIELD_NAMES:
        return f"{name!r} is a reserved name (not {', '.join(sorted(RESERVED_FIELD_NAMES))})"
    return None


def field_default_clean(field_type: str, value: Any) -> Any:
    """The default a field of `field_type` stores for `value`, or ValueError saying why not.

    `value` is what the builder typed (text) or what a package holds (JSON). None and empty text
    mean no default (None). Text follows the rules of `text_value_parse`; a date or datetime
    default keeps the text that was typed.
    """
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if not isinstance(value, str):
        if field_type == FieldType.NUMBER:
            return number_clean(value)
        if field_type == FieldType.CHECKBOX:
            if isinstance(value, bool):
                return value
            raise ValueError(f"expected true or false, not {value!r}")
        raise ValueError(f"expected a string for a {field_type} field")
    parsed = text_value_parse(field_type, value.strip())
    if isinstance(parsed, dt.date):
        return value.strip()
    return parsed if field_type in (FieldType.NUMBER, FieldType.CHECKBOX) else value


def text_value_parse(field_type: str, text: str) -> Any:
    """Non-empty, stripped `text` as a value of `field_type`: a finite number, true or false, a
    date or datetime, or the text itself; ValueError saying why not. The one set of rules for
    what a builder types as a default and what a template renders into a field."""
    if field_type == FieldType.NUMBER:
        return number_clean(text)
    if field_type == FieldType.CHECKBOX:
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ValueError(f"expected true or false, not {text!r}")
    if field_type == FieldType.DATE:
        day = parse_date_or_none(text)
        if day is None:
            raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)")
        return day
    if field_type == FieldType.DATETIME:
        moment = parse_datetime_or_none(text)
        if moment is None:
            raise ValueError(f"{text!r} is not a date and time (YYYY-MM-DDTHH:MM)")
        return moment
    return text


def parse_date_or_none(text: str) -> dt.date | None:
    try:
        return parse_date(text)
    except ValueError:  # well formed but not a day of the calendar (2024-02-30)
        return None


def parse_datetime_or_none(text: str) -> dt.datetime | None:
    try:
        return parse_datetime(text)
    except ValueError:
        return None


def coerce_value(field: Field, raw: str) -> Any:
    """Convert a rendered template to the type of `field`, or raise ActionFailed. Empty text is
    no number (None), false for a checkbox, and itself for the other types."""
    text = raw.strip()
    if not text:
        return {FieldType.NUMBER: None, FieldType.CHECKBOX: False}.get(field.type, raw)
    try:
        parsed = text_value_parse(field.type, text)
    except ValueError:
        raise ActionFailed(
            f"{text!r} is not a valid {field.get_type_display().lower()} for field {field.name!r}"
            + (" (a finite number)" if field.type == FieldType.NUMBER else "")
        ) from None
    if isinstance(parsed, dt.date):  # a datetime is a date too
        return parsed.isoformat()
    return parsed if field.type in (FieldType.NUMBER, FieldType.CHECKBOX) else raw


def value_as_moment(value: Any) -> dt.datetime | None:
    """A stored date or datetime value as an aware datetime (a date means its midnight)."""
    if not value or not isinstance(value, str):
        return None
    moment = parse_datetime_or_none(value)
    if moment is None:
        day = parse_date_or_none(value)
        if day is None:
            return None
        moment = dt.datetime.combine(day, dt.time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment
