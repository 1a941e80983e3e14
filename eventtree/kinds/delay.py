"""The delay kind: a container whose children run once a delay has passed (DESIGN §2).

Config: `{"seconds": n}` (a duration from the submit; 0 is now), or `{"field": name,
"offset_seconds": n}` (a moment relative to a date field of the record; negative is before).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms

from eventtree.engine.values import value_as_moment
from eventtree.kinds.base import BaseKind, Problem, is_integer, whole_number
from eventtree.models import Field, FieldType, Node, NodeKind

UNITS = [("1", "seconds"), ("60", "minutes"), ("3600", "hours"), ("86400", "days")]
MOMENT_TYPES = (FieldType.DATE, FieldType.DATETIME)
# Longer delays are typing mistakes; far enough, they overflow the calendar and fail every submit.
MAX_DELAY_SECONDS = 3653 * 86400  # ten years
MAX_DELAY_TEXT = "10 years (3653 days)"


class DelayForm(forms.Form):
    field = forms.ChoiceField(required=False, label="Relative to",
                              help_text="The submit, for a duration; or a date field of the record, for a moment.")
    amount = forms.IntegerField(min_value=0, initial=0, help_text="How long; 0 is at once (or at the date).")
    unit = forms.ChoiceField(choices=UNITS, initial="60", help_text="The unit of the amount.")
    direction = forms.ChoiceField(choices=[("after", "after"), ("before", "before")], initial="after",
                                  help_text="Only for a date field.")

    def __init__(self, *args: Any, date_fields: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [("", "the submit (a duration)"), *((name, name) for name in date_fields)]

    @classmethod
    def initial_for(cls, config: dict[str, Any]) -> dict[str, Any]:
        seconds = whole_number(config.get("offset_seconds") if config.get("field") else config.get("seconds"))
        seconds = seconds if is_integer(seconds) else 0
        unit = next((size for size, _ in reversed(UNITS) if seconds and seconds % int(size) == 0), "1")
        return {
            "field": config.get("field", ""),
            "amount": abs(seconds) // int(unit),
            "unit": unit if seconds else "60",
            "direction": "before" if seconds < 0 else "after",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("amount") is not None and data.get("unit") and data["amount"] * int(data["unit"]) > MAX_DELAY_SECONDS:
            self.add_error("amount", f"A delay is at most {MAX_DELAY_TEXT}.")
        return data

    def config(self) -> dict[str, Any]:
        data = self.cleaned_data
        seconds = data["amount"] * int(data["unit"])
        if data["field"]:
            return {"field": data["field"], "offset_seconds": -seconds if data["direction"] == "before" else seconds}
        return {"seconds": seconds}


class DelayKind(BaseKind):
    key = NodeKind.DELAY
    label = "Delay"
    icon = "◷"
    description = "Runs its children in a worker once a duration has passed, or at a moment set by a date field."
    runs_later = True
    package_keys = ("seconds", "field", "offset_seconds")
    default_config = {"seconds": 0}
    config_field_keys = ("field",)

    def config_form(self, node: Node, fields: list[Field], data: Any = None) -> forms.Form:
        date_fields = [field.name for field in fields if field.type in MOMENT_TYPES]
        return DelayForm(data, initial=DelayForm.initial_for(node.config or {}), date_fields=date_fields,
                         prefix="config")

    def summary(self, config: dict[str, Any]) -> str:
        return f"wait {describe_delay(config)}"

    def display_label(self, node: Node) -> str:
        return f"Delay ({describe_delay(node.config or {})})"

    def phase(self, config: dict[str, Any]) -> tuple[str, str]:
        return ("delay", f"after delay {describe_delay(config)}")

    def package_attributes(self, config: dict[str, Any]) -> dict[str, Any]:
        if config.get("field"):
            return {"field": config["field"], "offset_seconds": whole_number(config.get("offset_seconds"))}
        return {"seconds": whole_number(config.get("seconds"))}

    def config_from_package(self, spec: dict[str, Any]) -> dict[str, Any]:
        if "field" in spec:
            return {"field": spec["field"], "offset_seconds": spec.get("offset_seconds", 0)}
        return {"seconds": spec["seconds"]}

    def package_problems(self, data: dict[str, Any], field_types: dict[str, str]) -> list[Problem]:
        problems = []
        if "seconds" in data and "field" in data:
            problems.append(Problem("", "a delay has either seconds or field, not both"))
        elif "seconds" in data:
            if not is_integer(data["seconds"]) or data["seconds"] < 0:
                problems.append(Problem("seconds", "expected a whole number of seconds, 0 or more"))
            elif data["seconds"] > MAX_DELAY_SECONDS:
                problems.append(Problem("seconds", f"at most {MAX_DELAY_SECONDS} seconds ({MAX_DELAY_TEXT})"))
            if "offset_seconds" in data:
                problems.append(Problem("offset_seconds", "only a delay by field has an offset"))
        elif "field" in data:
            name = data["field"]
            if not isinstance(name, str) or name not in field_types:
                problems.append(Problem("field", f"the form has no field named {name!r}"))
            elif field_types[name] not in MOMENT_TYPES:
                problems.append(Problem("field", f"{name!r} is not a date or datetime field"))
            offset = data.get("offset_seconds", 0)
            if not is_integer(offset):
                problems.append(Problem("offset_seconds", "expected a whole number of seconds"))
            elif abs(offset) > MAX_DELAY_SECONDS:
                problems.append(Problem(
                    "offset_seconds", f"at most {MAX_DELAY_SECONDS} seconds ({MAX_DELAY_TEXT}) either way"))
        else:
            problems.append(Problem("", "a delay needs seconds (0 is now) or a date field"))
        return problems

    @staticmethod
    def due_at(config: dict[str, Any], values: dict[str, Any], now: datetime) -> tuple[datetime | None, str]:
        """When a block of a delay with `config` is due, for a record with `values`.

        None, with the reason, when it never can be: the date field is empty, or the moment lies
        past the end of the calendar. A moment already past is due `now`.
        """
        name = config.get("field")
        if name:
            moment = value_as_moment(values.get(name))
            if moment is None:
                return None, f"not scheduled: {name} holds no date"
            offset = whole_number(config.get("offset_seconds"))
            offset = offset if is_integer(offset) else 0
            try:
                # Comparing converts to UTC, which can overflow too (31 Dec 9999 west of Greenwich).
                return max(now, moment + timedelta(seconds=offset)), ""
            except OverflowError:
                if offset < 0 and moment.year < 9999:  # before the start of the calendar: long past
                    return now, ""
                return None, f"never: {describe_delay(config)} ({values.get(name)}) is past the end of the calendar"
        seconds = whole_number(config.get("seconds"))
        seconds = max(0, seconds) if is_integer(seconds) else 0
        try:
            return now + timedelta(seconds=seconds), ""
        except OverflowError:
            return None, f"never: {format_duration(seconds)} from now is past the end of the calendar"


def describe_delay(config: dict[str, Any]) -> str:
    """A delay's config in words: `now`, `2 h`, `1 d before appointment`."""
    if config.get("field"):
        offset = whole_number(config.get("offset_seconds"))
        if not is_integer(offset):
            return f"{offset!r} s from {config['field']}"
        if offset == 0:
            return f"at {config['field']}"
        relation = "before" if offset < 0 else "after"
        return f"{format_duration(abs(offset))} {relation} {config['field']}"
    seconds = whole_number(config.get("seconds"))
    if not is_integer(seconds):
        return f"{seconds!r} s"
    return "now" if seconds == 0 else format_duration(seconds)


def format_duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
