"""Editing forms and their fields."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from eventtree.models import Field, Form


def form_create(*, name: str, slug: str) -> Form:
    return Form.objects.create(name=name, slug=slug)


def form_update(*, form: Form, **values: Any) -> Form:
    for name, value in values.items():
        setattr(form, name, value)
    form.save()
    return form


def form_delete(*, form: Form) -> None:
    """Delete a form with its fields, trees, records and run history."""
    form.delete()


def field_add(*, form: Form, **values: Any) -> Field:
    with transaction.atomic():
        Form.objects.select_for_update().get(pk=form.pk)
        position = (form.fields.aggregate(top=Max("position"))["top"] or 0) + 1
        return Field.objects.create(form=form, position=position, **values)


def field_update(*, field: Field, **values: Any) -> Field:
    for name, value in values.items():
        setattr(field, name, value)
    field.save()
    return field


def field_delete(*, field: Field) -> None:
    field.delete()


def field_move(*, field: Field, offset: int) -> None:
    """Move a field up (-1) or down (+1) among its form's fields."""
    with transaction.atomic():
        Form.objects.select_for_update().get(pk=field.form_id)
        fields = list(Field.objects.filter(form_id=field.form_id).order_by("position", "id"))
        index = next(i for i, item in enumerate(fields) if item.pk == field.pk)
        target = max(0, min(len(fields) - 1, index + offset))
        fields.insert(target, fields.pop(index))
        for position, item in enumerate(fields):
            item.position = position
        Field.objects.bulk_update(fields, ["position"])
