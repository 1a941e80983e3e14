"""Record values by field type (eventtree/engine/values.py)."""

from __future__ import annotations

import math

import pytest

from eventtree.engine.values import coerce_value
from eventtree.errors import ActionFailed
from eventtree.models import Field


def number_field() -> Field:
    return Field(name="visits", type="number")


@pytest.mark.parametrize("text", ["nan", "NaN", " inf", "-Infinity", "1e309"])
def test_set_field_of_a_non_finite_number_fails_the_step(text: str) -> None:
    # On the old code "nan" was stored as NaN, and the record's save failed with an IntegrityError.
    with pytest.raises(ActionFailed, match="is not a valid number for field 'visits'"):
        coerce_value(number_field(), text)


@pytest.mark.parametrize(("text", "value"), [("3", 3), (" 2.5 ", 2.5), ("1e3", 1000), ("", None)])
def test_numbers_are_stored_as_json_numbers(text: str, value) -> None:
    assert coerce_value(number_field(), text) == value


@pytest.mark.parametrize(
    ("field_type", "value", "default"),
    [
        ("number", "12", 12),
        ("number", "-0.5", -0.5),
        ("number", 7, 7),
        ("number", 2.0, 2),
        ("checkbox", "yes", True),
        ("checkbox", "Off", False),
        ("checkbox", False, False),
        ("date", "2026-12-24", "2026-12-24"),
        ("datetime", "2026-12-24T10:00", "2026-12-24T10:00"),
        ("text", "  keep  ", "  keep  "),
        ("choice", "Open", "Open"),
        ("text", "", None),
        ("number", " ", None),
        ("date", None, None),
    ],
)
def test_field_default_clean_accepts_text_and_json(field_type: str, value, default) -> None:
    from eventtree.engine.values import field_default_clean

    assert field_default_clean(field_type, value) == default


@pytest.mark.parametrize(
    ("field_type", "value", "message"),
    [
        ("number", "NaN", "not a finite number"),
        ("number", "1e309", "not a finite number"),
        ("number", math.nan, "not a finite number"),
        ("number", math.inf, "not a finite number"),
        ("number", 10**400, "too large"),
        ("number", "ten", "'ten' is not a number"),
        ("number", True, "expected a number"),
        ("checkbox", "maybe", "expected true or false"),
        ("checkbox", 1, "expected true or false"),
        ("date", "24/12/2026", "is not a date"),
        ("date", "2026-02-30", "is not a date"),
        ("datetime", "tomorrow", "is not a date and time"),
        ("text", 3, "expected a string"),
        ("text", ["a"], "expected a string"),
    ],
)
def test_field_default_clean_refuses_what_a_record_cannot_hold(field_type: str, value, message: str) -> None:
    from eventtree.engine.values import field_default_clean

    with pytest.raises(ValueError, match=message):
        field_default_clean(field_type, value)
