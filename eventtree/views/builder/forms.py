"""Builder screens of forms: the list with create and import, a form's page, export and delete."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from eventtree import selectors
from eventtree.inputs.builder import FieldForm, FormCreateForm, FormSettingsForm, TreeCreateForm
from eventtree.inputs.packages import KEPT_MAX_BYTES, PACKAGE_MAX_BYTES, PackageImportForm
from eventtree.models import Form
from eventtree.permissions import builder_permission_required, permission_check
from eventtree.services import forms as form_services
from eventtree.services.packages import (
    PackageInvalid,
    form_package_export,
    form_package_import,
    form_package_load,
)
from eventtree.views.builder.responses import editor_response, leave_to
from eventtree.views.limits import body_limit
from eventtree.views.types import HtmxHttpRequest

FORMS_TEMPLATE = "eventtree/builder/forms.html"
FORM_TEMPLATE = "eventtree/builder/form.html"


# Also the way to the records of each form, for staff who may see records but not forms.
@builder_permission_required(("eventtree.view_form", "eventtree.view_record"), on_post="eventtree.add_form")
@require_http_methods(["GET", "POST"])
def form_list(request: HtmxHttpRequest) -> HttpResponse:
    create_form = FormCreateForm(request.POST or None)
    if request.method == "POST" and create_form.is_valid():
        form = form_services.form_create(**create_form.cleaned_data)
        return redirect("builder:form", slug=form.slug)
    return editor_response(request, FORMS_TEMPLATE, {
        "forms": selectors.forms_with_trees(), "create_form": create_form, "import_form": PackageImportForm(),
    })


# The package may be 5 MB, and a package kept from a refused import comes back beside it; the body
# around them a little more, so that a larger file gets the form's message rather than the 413 page.
@body_limit(PACKAGE_MAX_BYTES + KEPT_MAX_BYTES + 1024 * 1024)
@builder_permission_required("eventtree.add_form")
@require_POST
def form_import(request: HtmxHttpRequest) -> HttpResponse:
    import_form = PackageImportForm(request.POST, request.FILES)
    if import_form.is_valid():
        data = import_form.cleaned_data
        try:
            package = form_package_load(data["text"])
            package_permission_check(request.user, package, replace=data["replace"])
            # Whoever may not publish imports the trees as drafts, which do not run.
            draft = not request.user.has_perm("eventtree.publish_eventtree")
            form = form_package_import(data=package, replace=data["replace"],
                                       slug=data["slug"] or None, name=data["name"] or None,
                                       draft=draft, user=request.user)
        except PackageInvalid as invalid:
            import_form.refuse(problems=invalid.problems, slug_taken=invalid.slug_taken)
        else:
            messages.success(request, f"Imported {form.name}"
                             + (": its trees are drafts, which run once published." if draft else ", its trees published."))
            return redirect("builder:form", slug=form.slug)
    import_form.keep_package()
    return editor_response(request, FORMS_TEMPLATE, {
        "forms": selectors.forms_with_trees(), "create_form": FormCreateForm(), "import_form": import_form,
    }, status=400)


def package_permission_check(user, package: Any, *, replace: bool) -> None:
    """An import makes a form and its trees; replacing changes a form and the trees it has."""
    needed = ["eventtree.change_form", "eventtree.change_eventtree"] if replace else []
    if isinstance(package, dict) and package.get("trees"):
        needed.append("eventtree.add_eventtree")
    for perm in needed:
        permission_check(user, perm)


@builder_permission_required("eventtree.view_form")
@require_GET
def form_export(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    response = JsonResponse(form_package_export(form=form), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{form.slug}.json"'
    return response


@builder_permission_required("eventtree.view_form", on_post="eventtree.change_form")
@require_http_methods(["GET", "POST"])
def form_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    settings_form = FormSettingsForm(request.POST or None, instance=form, prefix="settings")
    if request.method == "POST" and settings_form.is_valid():
        form = form_services.form_update(form=form, **settings_form.cleaned_data)
        if form.slug != slug:
            return leave_to(request, reverse("builder:form", args=[form.slug]))
        settings_form = FormSettingsForm(instance=form, prefix="settings")
        settings_form.saved = True
    return editor_response(request, FORM_TEMPLATE, form_context(form, settings_form=settings_form), "settings")


def form_context(form: Form, **extra: Any) -> dict[str, Any]:
    return {
        "form": form,
        "fields": list(form.fields.all()),
        # Called only by the template parts that show the trees (not by the fields panel).
        "trees": cache(lambda: selectors.form_trees(form=form)),
        "settings_form": FormSettingsForm(instance=form, prefix="settings"),
        "field_form": FieldForm(form=form, prefix="field"),
        "tree_form": TreeCreateForm(prefix="tree"),
        **extra,
    }


@builder_permission_required("eventtree.delete_form")
@require_http_methods(["GET", "POST"])
def form_delete(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    if request.method == "POST":
        if form.records.exists():  # its records and their runs go with it
            permission_check(request.user, "eventtree.delete_record")
        form_services.form_delete(form=form)
        messages.success(request, f"Deleted {form.name}.")
        return leave_to(request, reverse("builder:forms"))
    return render(request, "eventtree/builder/form_delete.html", {"form": form, "record_count": form.records.count()})
