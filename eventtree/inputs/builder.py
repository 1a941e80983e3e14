"""Forms of the builder: form settings, fields, tree settings and node configs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.text import slugify

from eventtree.actions.base import TemplateField
from eventtree.engine.alerts import alert_email_problems
from eventtree.engine.conditions import OPERATORS, UNARY_OPERATORS
from eventtree.engine.cron import CRON_EXAMPLE, cron_problem
from eventtree.engine.values import field_default_clean, field_name_problem
from eventtree.kinds import kind_registry
from eventtree.inputs.node_config import (
    field_pickers,
    node_auto_id,
    template_inputs_describe,
    template_keys,
    template_variables,
)
from eventtree.kinds.base import EmptyConfigForm
from eventtree.kinds.condition import CONDITION_KEYS, condition_problems
from eventtree.models import Event, EventTree, Field, FieldType, Form, Node


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
    # A template, checked here as on import: a message that does not compile would fail every
    # status page.
    success_message = TemplateField(
        label="Post-submission message",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=Form._meta.get_field("success_message").help_text,
    )
    completion_flags = CommaListField(
        required=False,
        help_text="Flags that mean 'complete', comma-separated. Empty: when every background block finished.",
    )
    alert_emails = CommaListField(
        label="Alert addresses",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Who gets an email when a run of this form fails, comma-separated.",
    )

    class Meta:
        model = Form
        fields = ["name", "slug", "description", "success_message", "login_required", "listed",
                  "completion_flags", "alert_emails", "alert_group"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"listed": "Listed on the home page", "alert_group": "Alert group"}

    def clean_alert_emails(self) -> list[str]:
        addresses = self.cleaned_data["alert_emails"]
        problems = alert_email_problems(addresses)
        if problems:
            raise forms.ValidationError(problems)
        return addresses


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
            # A rename reaches the live versions either way (the form must keep working); the
            # drafts are the builder's, so that part is offered.
            self.fields["update_drafts"] = forms.BooleanField(
                required=False, initial=True, label="Rename it in the trees' drafts too",
                help_text="If you rename it: the nodes of the drafts that use it follow. Live "
                "versions that use it follow either way, as a new version.",
            )
            self.initial["choices"] = "\n".join(self.instance.choices or [])
            default = self.instance.default
            self.initial["default"] = "" if default is None else str(default).lower() if isinstance(default, bool) else str(default)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        reserved = field_name_problem(name)
        if reserved:
            raise forms.ValidationError(f"{reserved[0].upper()}{reserved[1:]}.")
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
        try:
            data["default"] = field_default_clean(data.get("type", FieldType.TEXT), data.get("default"))
        except ValueError as exc:
            self.add_error("default", f"Not a valid default for this type: {exc}.")
        return data

    def field_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class TreeSettingsForm(forms.ModelForm):
    # A scheduled tree's cron and record filter (DESIGN §3.8); the filter is a condition, as a
    # Condition node's, whose parts are cleaned into `filter` (None: every record).
    cron = forms.CharField(
        required=False, max_length=100, label="Cron expression",
        help_text=f"Scheduled trees only: when it runs, as minute hour day month weekday in the time zone "
        f"{settings.TIME_ZONE}, e.g. {CRON_EXAMPLE} (every night at 3:00).",
    )
    filter_field = forms.ChoiceField(required=False, label="Records it runs for",
                                     help_text="Scheduled trees only: every record, or those whose field passes the test.")
    filter_op = forms.ChoiceField(required=False, choices=list(OPERATORS.items()), label="Test")
    filter_value = forms.CharField(required=False, max_length=200, label="Value",
                                   help_text="Not used by 'is empty' and 'is set'.")

    class Meta:
        model = EventTree
        fields = ["name", "event", "mode", "active", "max_attempts", "cron"]
        widgets = {"max_attempts": forms.NumberInput(attrs={"min": 1, "max": 20})}

    def __init__(self, *args: Any, fields: list[Field] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.field_types = {item.name: item.type for item in
                            (fields if fields is not None else self.instance.form.fields.all())}
        self.fields["filter_field"].choices = [("", "Every record")] + [(name, name) for name in self.field_types]
        record_filter = self.instance.filter or {}
        self.initial.update({"filter_field": record_filter.get("field", ""), "filter_op": record_filter.get("op", "eq"),
                             "filter_value": record_filter.get("value", "")})

    def clean_max_attempts(self) -> int:
        value = self.cleaned_data["max_attempts"]
        if not 1 <= value <= 20:
            raise forms.ValidationError("Between 1 and 20.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        field, op, value = (data.pop(f"filter_{key}", "") for key in CONDITION_KEYS)
        cron, data["cron"], data["filter"] = " ".join((data.get("cron") or "").split()), "", None
        if data.get("event") != Event.SCHEDULED:
            return data  # only a scheduled tree has a cron and a filter
        data["cron"] = cron
        problem = cron_problem(cron)
        if problem:
            self.add_error("cron", sentence(problem))
        if field and op not in UNARY_OPERATORS and value == "":
            self.add_error("filter_value", "Required with this test.")
        elif field:
            data["filter"] = {"field": field, "op": op} if op in UNARY_OPERATORS else {"field": field, "op": op, "value": value}
            for found in condition_problems(data["filter"], self.field_types):
                self.add_error(f"filter_{found.where}" if found.where else "filter_field", sentence(found.message))
        return data


def sentence(message: str) -> str:
    return f"{message[0].upper()}{message[1:]}."


class TreeCreateForm(forms.ModelForm):
    class Meta:
        model = EventTree
        fields = ["name", "event", "mode"]


# Node configs: each kind's config form is declared by its kind (eventtree/kinds/) ------------


class LabelForm(forms.Form):
    label = forms.CharField(max_length=200, required=False,
                            help_text="Optional; shown instead of the summary, and to visitors for a Background or Delay.")


def node_config_form(node: Node, fields: list[Field], data: Any = None) -> forms.Form:
    """The config form of a node's kind (or action type), bound to `data` or to its stored config,
    as the editor shows it: ids of its own, a <select> of `fields` for each key that names a
    field, and each template input pointing at the list of variables (`vars-<node id>`): the
    form's `variables`, empty when it has no template."""
    if node.kind not in kind_registry:
        return EmptyConfigForm(data, prefix="config", auto_id=node_auto_id(node))
    kind = kind_registry.get(node.kind)
    form = kind.config_form(node, fields, data)
    form.auto_id = node_auto_id(node)
    field_pickers(form, kind.field_keys(node), fields)
    template_inputs_describe(form, f"vars-{node.pk}")
    form.variables = template_variables(fields) if template_keys(form) else []
    return form


def node_config_clean(node: Node, form: forms.Form, fields: list[Field]) -> dict[str, Any] | None:
    """The config to store, or None after adding the errors to `form`."""
    if node.kind not in kind_registry:
        form.is_valid()
        form.add_error(None, f"Unknown node kind {node.kind!r}: this node cannot be configured.")
        return None
    return kind_registry.get(node.kind).config_clean(node, form, fields)
