from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.template import TemplateSyntaxError

from eventtree.engine.templating import compile_template
from eventtree.errors import ActionFailed

if TYPE_CHECKING:
    from eventtree.engine.context import RunContext


class TemplateField(forms.CharField):
    """A value template in Django template syntax, checked for syntax when cleaned."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("strip", False)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        if value is not None and not isinstance(value, str):
            value = str(value)
        text = super().to_python(value)
        try:
            compile_template(text)
        except TemplateSyntaxError as exc:
            raise forms.ValidationError(f"Template error: {exc}") from exc
        return text


class TemplateMappingField(forms.JSONField):
    """A JSON object mapping names to value templates."""

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Expected an object of name: template pairs.")
        for key, template in value.items():
            if not isinstance(template, (str, int, float, bool)) and template is not None:
                raise forms.ValidationError(f"The value of {key!r} must be a template string.")
            try:
                compile_template("" if template is None else str(template))
            except TemplateSyntaxError as exc:
                raise forms.ValidationError(f"Template error in {key!r}: {exc}") from exc
        return value


class BaseAction:
    """An action type. Subclasses declare:

    - `key`: the identifier stored in trees and packages (`set_field`);
    - `label`, `icon`, `description`: how the editor shows it;
    - `config_form`: a Django form that validates the node's `config`;
    - `run(context, config)`: does the work on cleaned config; returns text for the trace;
    - `deliver(payload)`, for actions with side effects outside the database: performs one
      outbox message after the transaction that wrote it has committed;
    - `call(payload, idempotency_key=…)`, for actions whose outcome the walk needs (http_request):
      makes the call and returns its outcome, or raises ActionFailed (engine/outbox.py).
    """

    key: ClassVar[str]
    label: ClassVar[str]
    icon: ClassVar[str] = "•"
    description: ClassVar[str] = ""
    config_form: ClassVar[type[forms.Form]]
    # Actions that touch the outside world are not performed in a dry run.
    external: ClassVar[bool] = False
    # The config keys whose value names a field of the tree's form (checked against its fields,
    # renamed with them).
    field_keys: ClassVar[tuple[str, ...]] = ()
    # The config keys whose value is an object keyed by field names of the tree's form
    # (http_request's `store`): checked against its fields, renamed with them.
    field_mapping_keys: ClassVar[tuple[str, ...]] = ()

    def clean_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """Return the cleaned config, or raise ActionFailed naming what is wrong."""
        form = self.config_form(data=config)
        if not form.is_valid():
            raise ActionFailed(f"Invalid config for {self.key}: {config_errors_text(form)}")
        return form.cleaned_data

    def config_errors(self, config: Any, *, field_names: set[str] | None = None) -> list[str]:
        """Every problem with `config`; `field_names` are the form's fields, when known."""
        if not isinstance(config, dict):
            return ["config must be an object"]
        form = self.config_form(data=config)
        if not form.is_valid():
            return [
                f"{name}: {message}" if name != "__all__" else message
                for name, messages in form.errors.items()
                for message in messages
            ]
        if field_names is not None:
            return self.field_errors(form.cleaned_data, field_names)
        return []

    def field_errors(self, config: dict[str, Any], field_names: set[str]) -> list[str]:
        """Problems of a valid config against the fields of its form: a field it names that the
        form lacks."""
        return [
            f"{key}: the form has no field named {config[key]!r}"
            for key in self.field_keys
            if config.get(key) and config[key] not in field_names
        ] + [
            f"{key}: the form has no field named {name!r}"
            for key in self.field_mapping_keys
            for name in config.get(key) or {}
            if name not in field_names
        ]

    def summary(self, config: dict[str, Any]) -> str:
        """One line that says what this node does, for the editor and the run history."""
        return self.label

    def run(self, context: RunContext, config: dict[str, Any]) -> str:
        raise NotImplementedError

    def deliver(self, payload: dict[str, Any]) -> None:
        raise NotImplementedError(f"{self.key} has no outbox delivery")

    def call(self, payload: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        raise NotImplementedError(f"{self.key} makes no outbox call")


def config_errors_text(form: forms.Form) -> str:
    return "; ".join(
        f"{name}: {' '.join(messages)}" for name, messages in form.errors.items()
    )
