"""Builder screen of a tree's nodes (inside the tree editor): add, edit, move, delete.

Nodes are part of their tree: every change needs change_eventtree.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from eventtree import selectors
from eventtree.actions.registry import registry
from eventtree.inputs.builder import LabelForm, node_config_clean, node_config_form
from eventtree.kinds import kind_registry
from eventtree.models import Field, Node, NodeKind
from eventtree.permissions import builder_permission_required
from eventtree.services import trees as tree_services
from eventtree.views.builder.responses import editor_response
from eventtree.views.builder.trees import tree_error, tree_response
from eventtree.views.types import HtmxHttpRequest


@builder_permission_required("eventtree.change_eventtree")
@require_http_methods(["GET", "POST"])
def node_add(request: HtmxHttpRequest, tree_id: int) -> HttpResponse:
    tree = selectors.tree_get(tree_id=tree_id)
    parent_id = int_or_none(request.GET.get("parent") or request.POST.get("parent"))
    index = int_or_none(request.GET.get("index") or request.POST.get("index"))
    if request.method == "GET":  # the menu of kinds and action types
        return editor_response(request, "eventtree/builder/add_menu.html", {
            "tree": tree, "parent_id": parent_id, "index": index,
            "actions": list(registry), "kinds": [kind for kind in kind_registry if kind.key != NodeKind.ACTION],
        }, "menu")
    kind, _, action = request.POST.get("choice", "").partition(":")
    try:
        node = tree_services.node_add(tree=tree, kind=kind, action=action, parent_id=parent_id, index=index)
    except tree_services.TreeEditError as error:
        return tree_error(request, tree, str(error))
    if not request.htmx:
        return redirect(reverse("builder:node", args=[node.pk]))
    return tree_response(request, tree, editing=node.pk, edit_forms=node_forms(node, list(tree.form.fields.all())), added=node.pk)


@builder_permission_required("eventtree.change_eventtree")
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


@builder_permission_required("eventtree.change_eventtree")
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


@builder_permission_required("eventtree.change_eventtree")
@require_POST
def node_delete(request: HtmxHttpRequest, node_id: int) -> HttpResponse:
    node = get_object_or_404(Node.objects.select_related("tree__form"), pk=node_id)
    tree_services.node_delete(node=node)
    if not request.htmx:
        return redirect("builder:tree", tree_id=node.tree_id)
    return tree_response(request, node.tree)


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
