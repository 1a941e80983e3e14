"""Condition tests on record values: `field` `op` `value` (DESIGN §2)."""

from __future__ import annotations

from typing import Any

OPERATORS = {
    "eq": "equals",
    "ne": "does not equal",
    "contains": "contains",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "is_empty": "is empty",
    "is_set": "is set",
}
UNARY_OPERATORS = {"is_empty", "is_set"}


def condition_holds(config: dict[str, Any], values: dict[str, Any]) -> bool:
    op = config["op"]
    actual = values.get(config["field"])
    if op == "is_empty":
        return is_empty(actual)
    if op == "is_set":
        return not is_empty(actual)
    expected = config.get("value")
    if op == "contains":
        if isinstance(actual, list):
            return any(normalise(item) == normalise(expected) for item in actual)
        return normalise(expected) in normalise(actual)
    if op in ("eq", "ne"):
        equal = comparable(actual) == comparable(expected)
        return equal if op == "eq" else not equal
    if is_empty(actual):
        return False
    left, right = comparable(actual), comparable(expected)
    if type(left) is not type(right):
        left, right = normalise(actual), normalise(expected)
    if op == "gt":
        return left > right
    if op == "gte":
        return left >= right
    if op == "lt":
        return left < right
    if op == "lte":
        return left <= right
    raise ValueError(f"Unknown operator {op!r}")


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def normalise(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def comparable(value: Any) -> float | str:
    """Numbers compare as numbers, everything else as normalised text (ISO dates sort as text)."""
    if isinstance(value, bool):
        return normalise(value)
    if isinstance(value, (int, float)):
        return float(value)
    text = normalise(value)
    try:
        return float(text)
    except ValueError:
        return text.lower() if text.lower() in ("true", "false") else text


def describe(config: dict[str, Any]) -> str:
    op = config.get("op", "")
    words = OPERATORS.get(op, op)
    if op in UNARY_OPERATORS:
        return f"{config.get('field')} {words}"
    return f"{config.get('field')} {words} {config.get('value')!r}"
