"""Builder screen of a tree: the editor page, its settings, create and delete."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from eventtree import selectors
from eventtree.inputs.builder import TreeCreateForm, TreeSettingsForm
from eventtree.models import EventTree
from eventtree.permissions import builder_permission_required
from eventtree.selectors_schedules import tree_schedule
from eventtree.services import trees as tree_services
from eventtree.views.builder.forms import FORM_TEMPLATE, form_context
from eventtree.views.builder.responses import (
    TREE_TEMPLATE,
    editor_context,
    editor_response,
    leave_to,
    refusal_response,
    resync_response,
)
from eventtree.views.types import HtmxHttpRequest

@builder_permission_required("eventtree.add_eventtree")
@require_POST
def tree_create(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    tree_form = TreeCreateForm(request.POST, prefix="tree")
    if not tree_form.is_valid():
        return editor_response(request, FORM_TEMPLATE, form_context(form, tree_form=tree_form), status=400)
    tree = tree_services.tree_create(form=form, **tree_form.cleaned_data)
    return redirect("builder:tree", tree_id=tree.pk)


@builder_permission_required("eventtree.view_eventtree")
@require_GET
def tree_detail(request: HtmxHttpRequest, tree_id: int) -> HttpResponse:
    return tree_response(request, selectors.tree_get(tree_id=tree_id))


@builder_permission_required("eventtree.change_eventtree")
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


@builder_permission_required("eventtree.delete_eventtree")
@require_POST
def tree_delete(request: HtmxHttpRequest, tree_id: int) -> HttpResponse:
    tree = selectors.tree_get(tree_id=tree_id)
    slug = tree.form.slug
    tree_services.tree_delete(tree=tree)
    messages.success(request, f"Deleted the tree {tree.name}.")
    return leave_to(request, reverse("builder:form", args=[slug]))


def tree_response(request: HtmxHttpRequest, tree: EventTree, *, partial: str = "tree",
                  status: int = 200, **extra: Any) -> HttpResponse:
    editor = extra.pop("editor", None) or selectors.tree_editor(tree=tree)
    context = {
        **editor_context(request, tree, editor),
        "settings_form": extra.pop("settings_form", None) or TreeSettingsForm(instance=tree, prefix="tree",
                                                                              fields=editor.fields),
        "schedule": tree_schedule(tree=tree),
        **extra,
    }
    return editor_response(request, TREE_TEMPLATE, context, partial, status=status)


def tree_error(request: HtmxHttpRequest, tree: EventTree, message: str, *, resync: bool = False) -> HttpResponse:
    """A refused edit: said above the tree. Without JavaScript, on the page; with htmx, alone,
    unless the page already shows the refused change (`resync`: a drop), then with the tree."""
    if not request.htmx:
        messages.error(request, message)
        return redirect("builder:tree", tree_id=tree.pk)
    if resync:
        return resync_response(request, tree_response(request, tree, error=message))
    return refusal_response(request, message)
