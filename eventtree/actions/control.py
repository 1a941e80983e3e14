"""Actions about the run itself: set_flag, progress, log, fail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

from eventtree.actions.base import BaseAction, TemplateField
from eventtree.engine.values import number_clean
from eventtree.errors import ActionFailed
from eventtree.models.forms import identifier_validator

if TYPE_CHECKING:
    from eventtree.engine.context import RunContext


class SetFlagConfig(forms.Form):
    name = forms.CharField(max_length=200, help_text="The flag's name, as a form's completion flags name it.")
    field = forms.CharField(
        max_length=64,
        required=False,
        validators=[identifier_validator],
        help_text="Optional: also set this record field to true.",
    )


class SetFlag(BaseAction):
    key = "set_flag"
    label = "Set flag"
    icon = "⚑"
    description = "Sets a flag of the run (and a record field to true, if given)."
    config_form = SetFlagConfig
    field_keys = ("field",)

    def summary(self, config: dict[str, Any]) -> str:
        return f"flag {config.get('name')}" + (f" and {config['field']}" if config.get("field") else "")

    def run(self, context: RunContext, config: dict[str, Any]) -> str:
        context.flag_set(config["name"])
        if config.get("field"):
            context.form_field(config["field"])
            context.record_update({config["field"]: True})
        return f"flag {config['name']} set"


class ProgressConfig(forms.Form):
    name = forms.CharField(max_length=200, help_text="Names the bar: a later Progress node with this name updates it.")
    title = TemplateField(max_length=200, help_text="A template: the bar's title, shown to the visitor.")
    total = TemplateField(help_text="A number or a template; default 100.")
    done = TemplateField(help_text="A number or a template: how much of the total is done.")
    message = TemplateField(max_length=500, help_text="A template: a line shown under the bar.")


# The largest number a progress item stores (its columns are 32-bit).
PROGRESS_MAX = 2_147_483_647


class ProgressAction(BaseAction):
    key = "progress"
    label = "Progress"
    icon = "▰"
    description = "Creates or updates a progress bar shown to the submitter."
    config_form = ProgressConfig

    def summary(self, config: dict[str, Any]) -> str:
        return f"progress {config.get('name')}: {config.get('done')}/{config.get('total') or 100}"

    def run(self, context: RunContext, config: dict[str, Any]) -> str:
        numbers = {}
        for key, default in (("total", 100), ("done", 0)):
            text = context.render(str(config.get(key) or "")).strip()
            try:
                numbers[key] = max(0, int(number_clean(text))) if text else default
            except ValueError as exc:
                raise ActionFailed(f"progress: {key}: {exc}") from None
            if numbers[key] > PROGRESS_MAX:
                raise ActionFailed(f"progress: {key} {text!r} is larger than {PROGRESS_MAX}")
        context.progress_set(
            config["name"],
            title=context.render(config.get("title") or "")[:200] or config["name"],
            message=context.render(config.get("message") or "")[:500],
            **numbers,
        )
        return f"{config['name']}: {numbers['done']}/{numbers['total']}"


class LogConfig(forms.Form):
    message = TemplateField(required=True, help_text="A template: the line written to the run's trace.")


class Log(BaseAction):
    key = "log"
    label = "Log"
    icon = "☰"
    description = "Writes a line to the run's trace."
    config_form = LogConfig

    def summary(self, config: dict[str, Any]) -> str:
        return f"log {config.get('message', '')!r}"

    def run(self, context: RunContext, config: dict[str, Any]) -> str:
        return context.render(config["message"])


class FailConfig(forms.Form):
    message = TemplateField(required=True, help_text="A template: shown on the form when it fails before the redirect.")


class Fail(BaseAction):
    key = "fail"
    label = "Fail"
    icon = "⚠"
    description = "Stops the run with a message; before the redirect, the form shows it again."
    config_form = FailConfig

    def summary(self, config: dict[str, Any]) -> str:
        return f"fail: {config.get('message', '')!r}"

    def run(self, context: RunContext, config: dict[str, Any]) -> str:
        message = context.render(config["message"]).strip() or "The submission was refused."
        raise ActionFailed(message, public_message=message)
