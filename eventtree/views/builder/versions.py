"""Builder screen of a tree's versions (DESIGN §3.10): publish the draft, discard it, look at an
older version and publish it again."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from eventtree import selectors
from eventtree.engine.trees import subtree_iter
from eventtree.permissions import builder_permission_required
from eventtree.services import versions as version_services
from eventtree.views.builder.responses import editor_response
from eventtree.views.builder.trees import tree_response
from eventtree.views.types import HtmxHttpRequest

NOTE_LENGTH = 200


@builder_permission_required("eventtree.publish_eventtree")
@require_POST
def tree_publish(request: HtmxHttpRequest, tree_id: int) -> HttpResponse:
    tree = selectors.tree_get(tree_id=tree_id)
    try:
        version = version_services.tree_publish(
            tree=tree, user=request.user, note=request.POST.get("note", "").strip()[:NOTE_LENGTH]
        )
    except version_services.PublishRefused as refused:
        message = f"Not published: {refused}. Each problem is shown on its node below."
        if not request.htmx:
            messages.error(request, message)
            return redirect("builder:tree", tree_id=tree.pk)
        return tree_response(request, tree, error=message, partial="editor")  # htmx swaps only a 2xx answer
    return published_response(request, tree.pk, f"Published version {version.number}: new submits run it.")


@builder_permission_required("eventtree.change_eventtree")
@require_POST
def draft_discard(request: HtmxHttpRequest, tree_id: int) -> HttpResponse:
    tree = selectors.tree_get(tree_id=tree_id)
    version_services.draft_discard(tree=tree)
    return published_response(request, tree.pk, "Draft discarded: it is the live version again.")


@builder_permission_required("eventtree.view_eventtree")
@require_GET
def version_detail(request: HtmxHttpRequest, tree_id: int, number: int) -> HttpResponse:
    tree = selectors.tree_get(tree_id=tree_id)
    version, roots = selectors.version_view(tree=tree, number=number)
    for node in subtree_iter(roots):
        node.ref, node.test_step = str(node.pk), None
    # A version is read-only: its page has no editing tools (`can_edit` false).
    return editor_response(request, "eventtree/builder/version.html", {
        "tree": tree, "form": tree.form, "version": version, "roots": roots, "can_edit": False,
        "flash": None, "editing": None, "oob": False, "phase_oob": "",
    })


@builder_permission_required("eventtree.publish_eventtree")
@require_POST
def version_republish(request: HtmxHttpRequest, tree_id: int, number: int) -> HttpResponse:
    tree = selectors.tree_get(tree_id=tree_id)
    version, _ = selectors.version_view(tree=tree, number=number)
    published = version_services.version_republish(version=version, user=request.user)
    return published_response(
        request, tree.pk,
        f"Published version {version.number} again, as version {published.number}. The draft is unchanged.",
    )


def published_response(request: HtmxHttpRequest, tree_id: int, message: str) -> HttpResponse:
    if not request.htmx:
        messages.success(request, message)
        return redirect("builder:tree", tree_id=tree_id)
    # The whole editor: the list of versions beside the tree changes too.
    return tree_response(request, selectors.tree_get(tree_id=tree_id), notice=message, partial="editor")
