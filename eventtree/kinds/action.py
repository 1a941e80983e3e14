"""The action kind: a leaf that does one thing, of a type from the action registry (DESIGN §4).

Its config shape belongs to the action type; this kind only delegates to it. Its children are
its error port.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from eventtree.actions.registry import registry
from eventtree.kinds.base import BaseKind, EmptyConfigForm, Problem, json_copy, suggestion
from eventtree.models import Field, Node, NodeKind


class ActionKind(BaseKind):
    key = NodeKind.ACTION
    label = "Action"
    icon = "▶"
    description = "Does one thing, now or in the block it belongs to."
    package_keys = ("action", "config")

    def config_form(self, node: Node, fields: list[Field], data: Any = None) -> forms.Form:
        if node.action not in registry:
            return EmptyConfigForm(data, prefix="config")
        config = node.config or {}
        form_class = registry.get(node.action).config_form
        # A JSON field writes its object itself (dumping it here too made a string of it).
        initial = {key: json.dumps(value) if isinstance(value, dict)
                   and not isinstance(form_class.base_fields.get(key), forms.JSONField) else value
                   for key, value in config.items()}
        return form_class(data, initial=initial, prefix="config")

    def config_clean(self, node: Node, form: forms.Form, fields: list[Field]) -> dict[str, Any] | None:
        if node.action not in registry:
            form.is_valid()
            form.add_error(None, f"Unknown action type {node.action!r}: this node cannot be configured.")
            return None
        if not form.is_valid():
            return None
        config = dict(form.cleaned_data)
        for problem in registry.get(node.action).field_errors(config, {field.name for field in fields}):
            name, _, message = problem.partition(": ")
            form.add_error(name if name in form.fields else None, message or problem)
        return None if form.errors else config

    def field_keys(self, node: Node) -> tuple[str, ...]:
        return registry.get(node.action).field_keys if node.action in registry else ()

    def field_mapping_keys(self, node: Node) -> tuple[str, ...]:
        return registry.get(node.action).field_mapping_keys if node.action in registry else ()

    def node_summary(self, node: Node) -> str:
        if node.action not in registry:
            return f"unknown action type {node.action!r}"
        action = registry.get(node.action)
        try:
            return action.summary(node.config or {})
        except Exception:  # a summary must never break the editor
            return action.label

    def display_label(self, node: Node) -> str:
        return node.action.replace("_", " ").capitalize()

    def package_type(self, node: Node) -> dict[str, Any]:
        return {"action": node.action}

    def package_attributes(self, config: dict[str, Any]) -> dict[str, Any]:
        return {"config": dict(config)}

    def config_from_package(self, spec: dict[str, Any]) -> dict[str, Any]:
        return json_copy(spec.get("config", {}))

    def package_problems(self, data: dict[str, Any], field_types: dict[str, str]) -> list[Problem]:
        key = data.get("action")
        if not isinstance(key, str) or not key:
            return [Problem("", "an action node needs an action type")]
        if key not in registry:
            return [Problem("", f"unknown action type {key!r}{suggestion(key, registry.keys())}")]
        problems = registry.get(key).config_errors(data.get("config", {}), field_names=set(field_types))
        return [Problem("config", problem) for problem in problems]
