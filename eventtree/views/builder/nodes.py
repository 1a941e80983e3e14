"""Builder screen of a tree's nodes (inside the tree editor): add, edit, preview its templates,
move, duplicate, delete.

Nodes are part of their tree: every change needs change_eventtree. Over htmx each change answers
with what it changed on the page (responses.changes_response), whatever the tree's size; without
JavaScript it redirects to the tree's page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from eventtree import selectors
from eventtree.actions.registry import registry
from eventtree.engine.trees import subtree_find, subtree_iter, tree_load
from eventtree.inputs.builder import LabelForm, node_config_clean, node_config_form
from eventtree.inputs.node_config import node_auto_id, template_previews
from eventtree.kinds import kind_registry, node_label
from eventtree.models import EventTree, Field, Node, NodeKind
from eventtree.permissions import builder_permission_required
from eventtree.services import trees as tree_services
from eventtree.views.builder.responses import FOCUS_FIELD, card_response, changes_response, editor_response
from eventtree.views.builder.trees import tree_error
from eventtree.views.types import HtmxHttpRequest

FOCUS_EDIT = "#card-{} .node-tools > a"  # a node's Edit link: where focus goes back after a save


@builder_permission_required("eventtree.change_eventtree")
@require_http_methods(["GET", "POST"])
def node_add(request: HtmxHttpRequest, tree_id: int) -> HttpResponse:
    tree = selectors.tree_get(tree_id=tree_id)
    where = {name: int_or_none(request.GET.get(name) or request.POST.get(name)) for name in ("parent", "index", "after")}
    if request.method == "GET":  # the menu of kinds and action types
        return add_menu_response(request, tree, where)
    before = selectors.tree_editor(tree=tree, versions=False) if request.htmx else None
    kind, _, action = request.POST.get("choice", "").partition(":")
    try:
        node = tree_services.node_add(tree=tree, kind=kind, action=action, parent_id=where["parent"],
                                      index=where["index"], after_id=where["after"])
    except tree_services.TreeEditError as error:
        return tree_error(request, tree, str(error))
    if before is None:
        return redirect(reverse("builder:node", args=[node.pk]))
    return changes_response(request, tree, before, flash=node.pk, editing=node.pk, close_menus=True,
                            edit_forms=node_forms(node, before.fields),
                            focus=FOCUS_FIELD.format(node.pk))


def add_menu_response(request: HtmxHttpRequest, tree: Any, where: dict[str, int | None]) -> HttpResponse:
    """The menu of kinds and action types; over htmx, opened under the node it adds after or into
    (or under "+ Add a node at the end")."""
    response = editor_response(request, "eventtree/builder/add_menu.html", {
        "tree": tree, "parent_id": where["parent"], "index": where["index"], "after_id": where["after"],
        "actions": list(registry), "kinds": [kind for kind in kind_registry if kind.key != NodeKind.ACTION],
    }, "menu")
    if not request.htmx:
        return response
    beside = f"#card-{where['after'] or where['parent']}" if where["after"] or where["parent"] else "#menu-root"
    trigger_client_event(response, "eventtree:focus", {"focus": f"{beside} .add-menu button"}, after="settle")
    return reswap(retarget(response, beside), "beforeend")


@builder_permission_required("eventtree.change_eventtree")
@require_http_methods(["GET", "POST"])
def node_edit(request: HtmxHttpRequest, node_id: int) -> HttpResponse:
    node, tree, editor = node_editor(request, node_id)
    fields = editor.fields if editor else list(tree.form.fields.all())
    label_form, config_form = node_forms(node, fields, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        config = node_config_clean(node, config_form, fields)
        if label_form.is_valid() and config is not None:
            tree_services.node_update(node=node, label=label_form.cleaned_data["label"], config=config)
            if editor is None:
                return redirect("builder:tree", tree_id=tree.pk)
            return changes_response(request, tree, editor, node_id=node.pk, flash=node.pk,
                                    focus=FOCUS_EDIT.format(node.pk))
    if editor is None:
        node.ref = str(node.pk)
        return render(request, "eventtree/builder/node.html", {
            "tree": tree, "form": tree.form, "node": node, "label_form": label_form, "config_form": config_form,
            "edit_forms": (label_form, config_form), "has_children": node.children.exists(),
        })
    return card_response(request, tree, editor, node.pk, edit_forms=(label_form, config_form))


def node_editor(request: HtmxHttpRequest, node_id: int) -> tuple[Node, EventTree, Any]:
    """The node, its tree and, for htmx, the editor as it is before the change: the answer is
    what the change made differ from it."""
    node = get_object_or_404(Node, pk=node_id)
    tree = selectors.tree_get(tree_id=node.tree_id)
    return node, tree, selectors.tree_editor(tree=tree, versions=False) if request.htmx else None


def node_forms(node: Node, fields: list[Field], data: Any = None) -> tuple[LabelForm, Any]:
    label_form = LabelForm(data, initial={"label": node.label}, auto_id=node_auto_id(node))
    return label_form, node_config_form(node, fields, data)


@builder_permission_required("eventtree.change_eventtree")
@require_POST
def node_preview(request: HtmxHttpRequest, node_id: int) -> HttpResponse:
    """The templates of a node's edit form, as typed, rendered against a sample record: text
    (escaped on the page), or the error that keeps each from rendering. Saves nothing."""
    node = get_object_or_404(Node, pk=node_id)
    tree = selectors.tree_get(tree_id=node.tree_id)
    fields = list(tree.form.fields.all())
    previews, sample = template_previews(node_config_form(node, fields, request.POST), tree=tree, fields=fields)
    return render(request, "eventtree/builder/node_preview.html", {"previews": previews, "sample": sample})


@builder_permission_required("eventtree.change_eventtree")
@require_POST
def node_move(request: HtmxHttpRequest, node_id: int) -> HttpResponse:
    """A keyboard move (`direction`: up, down, indent, outdent) or a drop (`parent`, `index`)."""
    node, tree, before = node_editor(request, node_id)
    direction = request.POST.get("direction")
    try:
        if direction:
            tree_services.node_shift(node=node, direction=direction)
        else:
            tree_services.node_move(node=node, parent_id=int_or_none(request.POST.get("parent")),
                                    index=int_or_none(request.POST.get("index")) or 0)
    except tree_services.TreeEditError as error:
        # A drop is already on the page: the page gets the tree as it is.
        return tree_error(request, tree, str(error), resync=not direction)
    if before is None:
        return redirect("builder:tree", tree_id=tree.pk)
    # The button pressed, on the node that moved; after a drop, the node's Edit link.
    focus = f'#card-{node.pk} [data-op="{direction}"]' if direction else FOCUS_EDIT.format(node.pk)
    return changes_response(request, tree, before, node_id=node.pk, flash=node.pk, place=True, focus=focus)


@builder_permission_required("eventtree.change_eventtree")
@require_POST
def node_duplicate(request: HtmxHttpRequest, node_id: int) -> HttpResponse:
    """A copy of the node with its subtree, right after it; focus goes to the copy."""
    node, tree, before = node_editor(request, node_id)
    try:
        copy = tree_services.node_duplicate(node=node)
    except tree_services.TreeEditError as error:
        return tree_error(request, tree, str(error))
    if before is None:
        messages.success(request, f"Duplicated “{node_label(node)}”: the copy is right after it.")
        return redirect("builder:tree", tree_id=tree.pk)
    return changes_response(request, tree, before, flash=copy.pk, focus=FOCUS_EDIT.format(copy.pk))


@builder_permission_required("eventtree.change_eventtree")
@require_http_methods(["GET", "POST"])
def node_delete(request: HtmxHttpRequest, node_id: int) -> HttpResponse:
    """GET: the question, for a page without JavaScript (the editor asks in place); POST: delete
    the node with its subtree."""
    if request.method == "GET":
        node = get_object_or_404(Node, pk=node_id)
        tree = selectors.tree_get(tree_id=node.tree_id)
        subtree = subtree_find(tree_load(tree.pk), node.pk)
        return render(request, "eventtree/builder/node_delete.html", {
            "tree": tree, "form": tree.form, "node": node, "name": node_label(node),
            "inside": sum(1 for _ in subtree_iter([subtree])) - 1 if subtree else 0,
        })
    node, tree, before = node_editor(request, node_id)
    tree_services.node_delete(node=node)
    if before is None:
        return redirect("builder:tree", tree_id=tree.pk)
    return changes_response(request, tree, before, focus=focus_after_delete(before, node.pk))


def focus_after_delete(before: Any, node_id: int) -> str:
    """Where focus goes once a node is deleted: the Edit link of the node above it, or of its
    parent, or the tree's "+ Add a node at the end"."""
    node = before.nodes[node_id]
    siblings = before.nodes[node.parent_id].child_nodes if node.parent_id else before.roots
    index = siblings.index(node)
    near = siblings[index - 1].pk if index else node.parent_id
    return FOCUS_EDIT.format(near) if near else "#tree .add-root > a"


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
