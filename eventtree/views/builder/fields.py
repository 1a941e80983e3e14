"""Builder screen of a form's fields (a panel of the form's page): add, edit, move, delete."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from eventtree import selectors
from eventtree.inputs.builder import FieldForm
from eventtree.models import Field, Form
from eventtree.permissions import builder_permission_required
from eventtree.services import forms as form_services
from eventtree.views.builder.forms import FORM_TEMPLATE, form_context
from eventtree.views.builder.responses import editor_response
from eventtree.views.types import HtmxHttpRequest


@builder_permission_required("eventtree.view_form")
@require_GET
def field_list(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return fields_response(request, selectors.form_get(slug=slug))


@builder_permission_required("eventtree.change_form")
@require_POST
def field_add(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    field_form = FieldForm(request.POST, form=form, prefix="field")
    if not field_form.is_valid():
        return fields_response(request, form, refused=True, field_form=field_form)
    form_services.field_add(form=form, **field_form.field_values())
    return fields_response(request, form)


@builder_permission_required("eventtree.change_form")
@require_http_methods(["GET", "POST"])
def field_edit(request: HtmxHttpRequest, slug: str, field_id: int) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    field = get_object_or_404(Field, pk=field_id, form=form)
    edit_form = FieldForm(request.POST or None, instance=field, form=form, prefix="edit")
    if request.method == "POST" and edit_form.is_valid():
        form_services.field_update(field=field, update_drafts=edit_form.cleaned_data["update_drafts"],
                                   user=request.user, **edit_form.field_values())
        return fields_response(request, form, trees_changed=True)  # a rename may touch the trees
    return fields_response(request, form, refused=request.method == "POST", editing=field.pk, edit_form=edit_form)


@builder_permission_required("eventtree.change_form")
@require_POST
def field_move(request: HtmxHttpRequest, slug: str, field_id: int) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    field = get_object_or_404(Field, pk=field_id, form=form)
    form_services.field_move(field=field, offset=-1 if request.POST.get("direction") == "up" else 1)
    return fields_response(request, form)


@builder_permission_required("eventtree.change_form")
@require_POST
def field_delete(request: HtmxHttpRequest, slug: str, field_id: int) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    try:
        form_services.field_delete(field=get_object_or_404(Field, pk=field_id, form=form))
    except form_services.FieldInUse as refusal:
        return fields_response(request, form, refused=True, field_error=str(refusal))
    return fields_response(request, form, trees_changed=True)  # a draft may have used it


def fields_response(request: HtmxHttpRequest, form: Form, *, refused: bool = False, **extra: Any) -> HttpResponse:
    """The fields panel; without JavaScript, a change made goes back to the form's page and a
    change `refused` shows the whole page with its errors."""
    if not request.htmx and request.method == "POST" and not refused:
        return redirect("builder:form", slug=form.slug)
    return editor_response(request, FORM_TEMPLATE, form_context(form, **extra), "fields")
