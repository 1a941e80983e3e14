"""The builder: forms, fields, trees and the tree editor (htmx partials; every page works without
JavaScript too). Staff only."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from eventtree import selectors
from eventtree.actions.registry import registry
from eventtree.inputs.builder import (
    FieldForm,
    FormCreateForm,
    FormSettingsForm,
    LabelForm,
    TreeCreateForm,
    TreeSettingsForm,
    node_config_clean,
    node_config_form,
)
from eventtree.models import EventTree, Field, Form, Node, NodeKind
from eventtree.services import forms as form_services
from eventtree.services import trees as tree_services
from eventtree.services.packages import (
    PackageInvalid,
    form_package_export,
    form_package_import,
    form_package_load,
)
from eventtree.views.types import HtmxHttpRequest

FORMS_TEMPLATE = "eventtree/builder/forms.html"
FORM_TEMPLATE = "eventtree/builder/form.html"
TREE_TEMPLATE = "eventtree/builder/tree.html"


def editor_response(request: HtmxHttpRequest, template: str, context: dict[str, Any],
                    partial: str | None = None, status: int = 200) -> HttpResponse:
    """The whole page, or its named partial for an htmx request; never cached (back shows now)."""
    name = f"{template}#{partial}" if partial and request.htmx else template
    response = render(request, name, context, status=status)
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ["HX-Request"])
    return response


# Forms -----------------------------------------------------------------------------------------


@staff_member_required
@require_http_methods(["GET", "POST"])
def form_list(request: HtmxHttpRequest) -> HttpResponse:
    create_form = FormCreateForm(request.POST or None)
    if request.method == "POST" and create_form.is_valid():
        form = form_services.form_create(**create_form.cleaned_data)
        return redirect("builder:form", slug=form.slug)
    return editor_response(request, FORMS_TEMPLATE, {
        "forms": selectors.forms_with_trees(), "create_form": create_form,
    })


@staff_member_required
@require_POST
def form_import(request: HtmxHttpRequest) -> HttpResponse:
    upload = request.FILES.get("package")
    replace = request.POST.get("replace") == "on"
    try:
        if upload is None:
            raise PackageInvalid(["Choose a JSON file to import."])
        if upload.size > 5 * 1024 * 1024:
            raise PackageInvalid(["The file is larger than 5 MB."])
        form = form_package_import(data=form_package_load(upload.read().decode("utf-8", "replace")), replace=replace)
    except PackageInvalid as invalid:
        return editor_response(request, FORMS_TEMPLATE, {
            "forms": selectors.forms_with_trees(), "create_form": FormCreateForm(),
            "import_problems": invalid.problems,
        }, status=400)
    messages.success(request, f"Imported {form.name}.")
    return redirect("builder:form", slug=form.slug)


@staff_member_required
@require_GET
def form_export(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    response = JsonResponse(form_package_export(form=form), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{form.slug}.json"'
    return response


@staff_member_required
@require_http_methods(["GET", "POST"])
def form_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    settings_form = FormSettingsForm(request.POST or None, instance=form, prefix="settings")
    if request.method == "POST" and settings_form.is_valid():
        form = form_services.form_update(form=form, **settings_form.cleaned_data)
        if form.slug != slug:
            return HttpResponseClientRedirect(reverse("builder:form", args=[form.slug])) if request.htmx \
                else redirect("builder:form", slug=form.slug)
        settings_form = FormSettingsForm(instance=form, prefix="settings")
        settings_form.saved = True
    return editor_response(request, FORM_TEMPLATE, form_context(form, settings_form=settings_form), "settings")


def form_context(form: Form, **extra: Any) -> dict[str, Any]:
    return {
        "form": form,
        "fields": list(form.fields.all()),
        "trees": list(form.trees.all()),
        "settings_form": FormSettingsForm(instance=form, prefix="settings"),
        "field_form": FieldForm(form=form, prefix="field"),
        "tree_form": TreeCreateForm(prefix="tree"),
        **extra,
    }


@staff_member_required
@require_http_methods(["GET", "POST"])
def form_delete(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    if request.method == "POST":
        form_services.form_delete(form=form)
        messages.success(request, f"Deleted {form.name}.")
        return HttpResponseClientRedirect(reverse("builder:forms")) if request.htmx else redirect("builder:forms")
    return render(request, "eventtree/builder/form_delete.html", {"form": form, "record_count": form.records.count()})


# Fields ----------------------------------------------------------------------------------------


@staff_member_required
@require_GET
def field_list(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return fields_response(request, selectors.form_get(slug=slug))


@staff_member_required
@require_POST
def field_add(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    field_form = FieldForm(request.POST, form=form, prefix="field")
    if field_form.is_valid():
        form_services.field_add(form=form, **field_form.field_values())
        field_form = FieldForm(form=form, prefix="field")
    return fields_response(request, form, field_form=field_form)


@staff_member_required
@require_http_methods(["GET", "POST"])
def field_edit(request: HtmxHttpRequest, slug: str, field_id: int) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    field = get_object_or_404(Field, pk=field_id, form=form)
    edit_form = FieldForm(request.POST or None, instance=field, form=form, prefix="edit")
    if request.method == "POST" and edit_form.is_valid():
        form_services.field_update(field=field, **edit_form.field_values())
        return fields_response(request, form)
    return fields_response(request, form, editing=field.pk, edit_form=edit_form)


@staff_member_required
@require_POST
def field_move(request: HtmxHttpRequest, slug: str, field_id: int) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    field = get_object_or_404(Field, pk=field_id, form=form)
    form_services.field_move(field=field, offset=-1 if request.POST.get("direction") == "up" else 1)
    return fields_response(request, form)


@staff_member_required
@require_POST
def field_delete(request: HtmxHttpRequest, slug: str, field_id: int) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    form_services.field_delete(field=get_object_or_404(Field, pk=field_id, form=form))
    return fields_response(request, form)


def fields_response(request: HtmxHttpRequest, form: Form, **extra: Any) -> HttpResponse:
    if not request.htmx and request.method == "POST":
        return redirect("builder:form", slug=form.slug)
    return editor_response(request, FORM_TEMPLATE, form_context(form, **extra), "fields")


# Trees -----------------------------------------------------------------------------------------


@staff_member_required
@require_POST
def tree_create(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    tree_form = TreeCreateForm(request.POST, prefix="tree")
    if not tree_form.is_valid():
        return editor_response(request, FORM_TEMPLATE, form_context(form, tree_form=tree_form), status=400)
    tree = tree_services.tree_create(form=form, **tree_form.cleaned_data)
    return redirect("builder:tree", tree_id=tree.pk)


@staff_member_required
@require_GET
def tree_detail(request: HtmxHttpRequest, tree_id: int) -> HttpResponse:
    tree = selectors.tree_get(tree_id=tree_id)
    return tree_response(request, tree)


@staff_member_required
@require_POST
def tree_settings(request: HtmxHttpRequest, tree_id: int) -> HttpResponse:
    tree = selectors.tree_get(tree_id=tree_id)
    settings_form = TreeSettingsForm(request.POST, instance=EventTree.objects.get(pk=tree.pk), prefix="tree")
    if settings_form.is_valid():
        tree = tree_services.tree_update(tree=tree, **settings_form.cleaned_data)
        tree = selectors.tree_get(tree_id=tree.pk)
        if not request.htmx:
            return redirect("builder:tree", tree_id=tree.pk)
        settings_form = None
    # The settings change phases (run mode), so the whole editor is re-rendered.
    return tree_response(request, tree, settings_form=settings_form, settings_saved=settings_form is None,
                         partial="editor")


@staff_member_required
@require_POST
def tree_delete(request: HtmxHttpRequest, tree_id: int) -> HttpResponse:
    tree = selectors.tree_get(tree_id=tree_id)
    slug = tree.form.slug
    tree_services.tree_delete(tree=tree)
    messages.success(request, f"Deleted the tree {tree.name}.")
    url = reverse("builder:form", args=[slug])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def tree_response(request: HtmxHttpRequest, tree: EventTree, *, partial: str = "tree",
                  status: int = 200, **extra: Any) -> HttpResponse:
    editor = selectors.tree_editor(tree=tree)
    context = {
        "tree": tree,
        "form": tree.form,
        "editor": editor,
        "settings_form": extra.pop("settings_form", None) or TreeSettingsForm(instance=tree, prefix="tree"),
        **extra,
    }
    return editor_response(request, TREE_TEMPLATE, context, partial, status=status)


# Nodes -----------------------------------------------------------------------------------------


@staff_member_required
@require_http_methods(["GET", "POST"])
def node_add(request: HtmxHttpRequest, tree_id: int) -> HttpResponse:
    tree = selectors.tree_get(tree_id=tree_id)
    parent_id = int_or_none(request.GET.get("parent") or request.POST.get("parent"))
    index = int_or_none(request.GET.get("index") or request.POST.get("index"))
    if request.method == "GET":  # the menu of kinds and action types
        return editor_response(request, "eventtree/builder/add_menu.html", {
            "tree": tree, "parent_id": parent_id, "index": index,
            "actions": list(registry), "kinds": [NodeKind.BACKGROUND, NodeKind.DELAY, NodeKind.CONDITION],
        }, "menu")
    kind, _, action = request.POST.get("choice", "").partition(":")
    try:
        node = tree_services.node_add(tree=tree, kind=kind, action=action, parent_id=parent_id, index=index)
    except tree_services.TreeEditError as error:
        return tree_error(request, tree, str(error))
    if not request.htmx:
        return redirect(reverse("builder:node", args=[node.pk]))
    return tree_response(request, tree, editing=node.pk, edit_forms=node_forms(node, list(tree.form.fields.all())), added=node.pk)


@staff_member_required
@require_http_methods(["GET", "POST"])
def node_edit(request: HtmxHttpRequest, node_id: int) -> HttpResponse:
    node = get_object_or_404(Node.objects.select_related("tree__form"), pk=node_id)
    tree = node.tree
    fields = list(tree.form.fields.all())
    label_form, config_form = node_forms(node, fields, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        config = node_config_clean(node, config_form, fields)
        if label_form.is_valid() and config is not None:
            tree_services.node_update(node=node, label=label_form.cleaned_data["label"], config=config)
            if not request.htmx:
                return redirect("builder:tree", tree_id=tree.pk)
            return tree_response(request, tree, saved=node.pk)
    if not request.htmx:
        return render(request, "eventtree/builder/node.html", {
            "tree": tree, "form": tree.form, "node": node, "label_form": label_form, "config_form": config_form,
        })
    return tree_response(request, tree, editing=node.pk, edit_forms=(label_form, config_form))


def node_forms(node: Node, fields: list[Field], data: Any = None) -> tuple[LabelForm, Any]:
    return LabelForm(data, initial={"label": node.label}), node_config_form(node, fields, data)


@staff_member_required
@require_POST
def node_move(request: HtmxHttpRequest, node_id: int) -> HttpResponse:
    node = get_object_or_404(Node.objects.select_related("tree__form"), pk=node_id)
    try:
        if request.POST.get("direction"):
            tree_services.node_shift(node=node, direction=request.POST["direction"])
        else:
            tree_services.node_move(node=node, parent_id=int_or_none(request.POST.get("parent")),
                                    index=int_or_none(request.POST.get("index")) or 0)
    except tree_services.TreeEditError as error:
        return tree_error(request, node.tree, str(error))
    if not request.htmx:
        return redirect("builder:tree", tree_id=node.tree_id)
    return tree_response(request, node.tree, moved=node.pk)


@staff_member_required
@require_POST
def node_delete(request: HtmxHttpRequest, node_id: int) -> HttpResponse:
    node = get_object_or_404(Node.objects.select_related("tree__form"), pk=node_id)
    tree_services.node_delete(node=node)
    if not request.htmx:
        return redirect("builder:tree", tree_id=node.tree_id)
    return tree_response(request, node.tree)


def tree_error(request: HtmxHttpRequest, tree: EventTree, message: str) -> HttpResponse:
    if not request.htmx:
        messages.error(request, message)
        return redirect("builder:tree", tree_id=tree.pk)
    return tree_response(request, tree, error=message)


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
