"""Actions that change records: set_field, create_record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

from eventtree.actions.base import BaseAction, TemplateField, TemplateMappingField
from eventtree.engine.values import coerce_value
from eventtree.models.forms import identifier_validator

if TYPE_CHECKING:
    from eventtree.engine.context import RunContext


class SetFieldConfig(forms.Form):
    field = forms.CharField(max_length=64, validators=[identifier_validator],
                            help_text="The field of this form's record that gets the value.")
    value = TemplateField(help_text="A template, e.g. A:{{ record.name }}; converted to the field's type.")


class SetField(BaseAction):
    key = "set_field"
    label = "Set field"
    icon = "✎"
    description = "Sets a field of the record to a value template."
    config_form = SetFieldConfig
    field_keys = ("field",)

    def summary(self, config: dict[str, Any]) -> str:
        return f"set {config.get('field')} = {config.get('value', '')!r}"

    def run(self, context: RunContext, config: dict[str, Any]) -> str:
        field = context.form_field(config["field"])
        value = coerce_value(field, context.render(config["value"]))
        context.record_update({config["field"]: value})
        return f"{config['field']} = {value!r}"


class CreateRecordConfig(forms.Form):
    form = forms.SlugField(help_text="The address (slug) of the form to create a record in.")
    values = TemplateMappingField(
        required=False,
        help_text='The new record\'s values: a JSON object of that form\'s field names and templates, '
        'e.g. {"name": "{{ record.name }}"}.',
    )


class CreateRecord(BaseAction):
    key = "create_record"
    label = "Create record"
    icon = "⊕"
    description = "Creates a record in another form and fires that form's submitted trees."
    config_form = CreateRecordConfig

    def summary(self, config: dict[str, Any]) -> str:
        return f"create a record in {config.get('form')}"

    def run(self, context: RunContext, config: dict[str, Any]) -> str:
        values = {name: context.render(str(template)) for name, template in config["values"].items()}
        record = context.record_create(form_slug=config["form"], values=values)
        return f"created {record.form.slug} #{record.pk}"
