"""The condition kind: a container whose children run only if a test on the record holds.

Config: `field` `op` `value` (no value with `is_empty`, `is_set`). A scheduled tree's record
filter has the same shape, so the package validates both with `condition_problems`. The test
itself is evaluated by `engine/conditions.py`.
"""

from __future__ import annotations

from typing import Any

from django import forms

from eventtree.engine.conditions import OPERATORS, UNARY_OPERATORS, describe
from eventtree.kinds.base import BaseKind, Problem, json_copy
from eventtree.models import Field, Node, NodeKind

CONDITION_KEYS = ("field", "op", "value")
# The tests that can only hold for a value among a choice field's choices.
CHOICE_OPERATORS = ("eq", "ne", "contains")


class ConditionForm(forms.Form):
    field = forms.ChoiceField(help_text="The field of the record to test, as it is when the walk gets here.")
    op = forms.ChoiceField(choices=list(OPERATORS.items()), label="Test",
                           help_text="How the field's value is compared with the value below.")
    value = forms.CharField(required=False, help_text="Compared with the field's value; not used by 'is empty' and 'is set'.")

    def __init__(self, *args: Any, field_names: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [(name, name) for name in field_names]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("op") and data["op"] not in UNARY_OPERATORS and data.get("value", "") == "":
            self.add_error("value", "Required with this test.")
        return data

    def config(self) -> dict[str, Any]:
        data = self.cleaned_data
        config = {"field": data["field"], "op": data["op"]}
        if data["op"] not in UNARY_OPERATORS:
            config["value"] = data["value"]
        return config


class ConditionKind(BaseKind):
    key = NodeKind.CONDITION
    label = "Condition"
    icon = "?"
    description = "Runs its children only if a test on the record holds."
    package_keys = CONDITION_KEYS
    default_config = {"field": "", "op": "eq", "value": ""}
    config_field_keys = ("field",)

    def config_form(self, node: Node, fields: list[Field], data: Any = None) -> forms.Form:
        return ConditionForm(data, initial=node.config or {}, field_names=[field.name for field in fields],
                             prefix="config")

    def summary(self, config: dict[str, Any]) -> str:
        return f"if {describe(config)}"

    def display_label(self, node: Node) -> str:
        config = node.config or {}
        return f"If {config.get('field')} {config.get('op')} {config.get('value', '')}".strip()

    def package_attributes(self, config: dict[str, Any]) -> dict[str, Any]:
        return condition_export(config)

    def config_from_package(self, spec: dict[str, Any]) -> dict[str, Any]:
        return condition_config(spec)

    def package_problems(self, data: dict[str, Any], field_types: dict[str, str]) -> list[Problem]:
        return condition_problems(data, field_types)

    def value_problems(self, node: Node, fields: dict[str, Field]) -> list[str]:
        config = node.config or {}
        field = fields.get(config.get("field", ""))
        if field is None or not field.choices or config.get("op") not in CHOICE_OPERATORS:
            return []
        if str(config.get("value", "")) in [str(choice) for choice in field.choices]:
            return []
        return [f"value: {config.get('value')!r} is not one of the choices of {field.name} "
                f"({', '.join(str(choice) for choice in field.choices)})"]


def condition_export(config: dict[str, Any]) -> dict[str, Any]:
    """A condition (node config or tree filter) as a package writes it."""
    data = {"field": config.get("field"), "op": config.get("op")}
    if config.get("op") not in UNARY_OPERATORS:
        data["value"] = config.get("value", "")
    return data


def condition_config(spec: dict[str, Any]) -> dict[str, Any]:
    """What a validated package condition stores."""
    return {key: json_copy(spec[key]) for key in CONDITION_KEYS if key in spec}


def condition_problems(data: Any, field_types: dict[str, str]) -> list[Problem]:
    """Everything wrong with a condition (a node's keys, or a scheduled tree's filter)."""
    if not isinstance(data, dict):
        return [Problem("", "expected a condition object")]
    problems = []
    name = data.get("field")
    if not isinstance(name, str) or not name:
        problems.append(Problem("field", "required"))
    elif name not in field_types:
        problems.append(Problem("field", f"the form has no field named {name!r}"))
    op = data.get("op")
    if not isinstance(op, str) or op not in OPERATORS:
        problems.append(Problem("op", f"unknown operator {op!r} (one of {', '.join(OPERATORS)})"))
        return problems
    if op in UNARY_OPERATORS:
        if "value" in data:
            problems.append(Problem("value", f"{op} takes no value"))
    elif "value" not in data:
        problems.append(Problem("value", f"required with {op}"))
    elif isinstance(data["value"], (dict, list)) or data["value"] is None:
        problems.append(Problem("value", "expected a string, a number or true/false"))
    return problems
