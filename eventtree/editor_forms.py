"""Forms of the builder: form settings, fields, tree settings and node configs."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.text import slugify

from eventtree.actions.registry import registry
from eventtree.engine.conditions import OPERATORS, UNARY_OPERATORS
from eventtree.models import EventTree, Field, FieldType, Form, Node, NodeKind

UNITS = [("1", "seconds"), ("60", "minutes"), ("3600", "hours"), ("86400", "days")]


class FormCreateForm(forms.ModelForm):
    slug = forms.SlugField(required=False, help_text="Leave empty to derive it from the name.")

    class Meta:
        model = Form
        fields = ["name", "slug"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("name") and not data.get("slug"):
            data["slug"] = slugify(data["name"])[:100]
            if Form.objects.filter(slug=data["slug"]).exists():
                self.add_error("slug", f"A form with the address {data['slug']!r} exists already.")
        return data


class CommaListField(forms.CharField):
    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value) or ""
        return [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]


class FormSettingsForm(forms.ModelForm):
    completion_flags = CommaListField(
        required=False,
        help_text="Flags that mean 'complete', comma-separated. Empty: when every background block finished.",
    )

    class Meta:
        model = Form
        fields = ["name", "slug", "description", "success_message", "login_required", "completion_flags"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "success_message": forms.Textarea(attrs={"rows": 3}),
        }


class FieldForm(forms.ModelForm):
    choices = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="For a choice field: one choice a line.",
    )
    default = forms.CharField(required=False, help_text="Initial value, optional.")

    class Meta:
        model = Field
        fields = ["name", "label", "type", "required", "internal", "choices", "default", "help_text"]

    def __init__(self, *args: Any, form: Form, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = form
        if self.instance.pk:
            self.initial["choices"] = "\n".join(self.instance.choices or [])
            default = self.instance.default
            self.initial["default"] = "" if default is None else str(default).lower() if isinstance(default, bool) else str(default)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        clash = Field.objects.filter(form=self.owner, name=name).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"This form has a field named {name!r} already.")
        return name

    def clean_choices(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["choices"].splitlines() if line.strip()]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("type") == FieldType.CHOICE and not data.get("choices"):
            self.add_error("choices", "A choice field needs at least one choice.")
        text = (data.get("default") or "").strip()
        data["default"] = None
        if text:
            try:
                data["default"] = parse_default(data.get("type", FieldType.TEXT), text)
            except ValueError:
                self.add_error("default", f"{text!r} is not a valid default for this type.")
        return data

    def field_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


def parse_default(field_type: str, text: str) -> Any:
    if field_type == FieldType.NUMBER:
        number = float(text)
        return int(number) if number.is_integer() else number
    if field_type == FieldType.CHECKBOX:
        if text.lower() in {"true", "yes", "1", "on"}:
            return True
        if text.lower() in {"false", "no", "0", "off"}:
            return False
        raise ValueError(text)
    return text


class TreeSettingsForm(forms.ModelForm):
    class Meta:
        model = EventTree
        fields = ["name", "event", "mode", "active", "max_attempts"]
        widgets = {"max_attempts": forms.NumberInput(attrs={"min": 1, "max": 20})}

    def clean_max_attempts(self) -> int:
        value = self.cleaned_data["max_attempts"]
        if not 1 <= value <= 20:
            raise forms.ValidationError("Between 1 and 20.")
        return value


class TreeCreateForm(forms.ModelForm):
    class Meta:
        model = EventTree
        fields = ["name", "event", "mode"]


# Node configs ----------------------------------------------------------------------------------


class LabelForm(forms.Form):
    label = forms.CharField(max_length=200, required=False, help_text="Optional; shown instead of the summary.")


class DelayForm(forms.Form):
    field = forms.ChoiceField(required=False, label="Relative to")
    amount = forms.IntegerField(min_value=0, initial=0)
    unit = forms.ChoiceField(choices=UNITS, initial="60")
    direction = forms.ChoiceField(choices=[("after", "after"), ("before", "before")], initial="after",
                                  help_text="Only for a date field.")

    def __init__(self, *args: Any, date_fields: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [("", "the submit (a duration)"), *((name, name) for name in date_fields)]

    @classmethod
    def initial_for(cls, config: dict[str, Any]) -> dict[str, Any]:
        seconds = int(config.get("offset_seconds") if config.get("field") else config.get("seconds") or 0)
        unit = next((size for size, _ in reversed(UNITS) if seconds and seconds % int(size) == 0), "1")
        return {
            "field": config.get("field", ""),
            "amount": abs(seconds) // int(unit),
            "unit": unit if seconds else "60",
            "direction": "before" if seconds < 0 else "after",
        }

    def config(self) -> dict[str, Any]:
        data = self.cleaned_data
        seconds = data["amount"] * int(data["unit"])
        if data["field"]:
            return {"field": data["field"], "offset_seconds": -seconds if data["direction"] == "before" else seconds}
        return {"seconds": seconds}


class ConditionForm(forms.Form):
    field = forms.ChoiceField()
    op = forms.ChoiceField(choices=list(OPERATORS.items()), label="Test")
    value = forms.CharField(required=False)

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


class EmptyForm(forms.Form):
    def config(self) -> dict[str, Any]:
        return {}


def node_config_form(node: Node, fields: list[Field], data: Any = None) -> forms.Form:
    """The config form of a node's kind (or action type), bound to `data` or to its stored config."""
    config = node.config or {}
    if node.kind == NodeKind.DELAY:
        date_fields = [f.name for f in fields if f.type in (FieldType.DATE, FieldType.DATETIME)]
        return DelayForm(data, initial=DelayForm.initial_for(config), date_fields=date_fields, prefix="config")
    if node.kind == NodeKind.CONDITION:
        return ConditionForm(data, initial=config, field_names=[f.name for f in fields], prefix="config")
    if node.kind == NodeKind.ACTION and node.action in registry:
        initial = {key: json.dumps(value) if isinstance(value, dict) else value for key, value in config.items()}
        return registry.get(node.action).config_form(data, initial=initial, prefix="config")
    return EmptyForm(data, prefix="config")


def node_config_clean(node: Node, form: forms.Form, fields: list[Field]) -> dict[str, Any] | None:
    """The config to store, or None after adding the errors to `form`."""
    if not form.is_valid():
        return None
    if hasattr(form, "config"):
        return form.config()
    action = registry.get(node.action)
    config = {key: value for key, value in form.cleaned_data.items()}
    for problem in action.field_errors(config, {f.name for f in fields}):
        name, _, message = problem.partition(": ")
        form.add_error(name if name in form.fields else None, message or problem)
    return None if form.errors else config
