"""Builder screen of a tree's test run (DESIGN §3.9): the panel of the tree editor, and the
editor with each node marked by what the dry run did with it."""

from __future__ import annotations

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.http import require_http_methods

from eventtree import selectors
from eventtree.engine.testrun import Outcome, TestRunTrace, tree_test_run
from eventtree.engine.trees import subtree_iter
from eventtree.inputs.testrun import TestRunInput
from eventtree.models import EventTree
from eventtree.permissions import builder_permission_required, permission_check
from eventtree.views.builder.responses import editor_response
from eventtree.views.builder.trees import tree_response
from eventtree.views.types import HtmxHttpRequest

PANEL_TEMPLATE = "eventtree/builder/test_run.html"
RECORD_CHOICES = 50
NOT_REACHED = {"status": "unreached"}


@builder_permission_required("eventtree.view_eventtree")
@require_http_methods(["GET", "POST"])
def tree_test(request: HtmxHttpRequest, tree_id: int) -> HttpResponse:
    """GET: the panel's form. POST: a dry run of the draft; the editor marks every node."""
    tree = selectors.tree_get(tree_id=tree_id)
    if request.POST.get("record"):
        permission_check(request.user, "eventtree.view_record")
    test_input = TestRunInput(request.POST if request.method == "POST" else None,
                              fields=selectors.form_public_fields(form=tree.form), records=record_choices(request, tree))
    if request.method == "GET" or not test_input.is_valid():
        return test_run_response(request, tree, test_input, status=400 if request.method == "POST" else 200)
    trace = tree_test_run(tree=tree, values=test_input.values(), record=test_input.record())
    return test_run_response(request, tree, test_input, trace)


def record_choices(request: HtmxHttpRequest, tree: EventTree) -> list | None:
    if not request.user.has_perm("eventtree.view_record"):
        return None
    return list(selectors.record_list(form=tree.form)[:RECORD_CHOICES])


def test_run_response(request: HtmxHttpRequest, tree: EventTree, test_input: TestRunInput,
                      trace: TestRunTrace | None = None, status: int = 200) -> HttpResponse:
    """The editor page; for htmx, the panel alone (GET), or the tree with its marks and the panel
    out of band (POST: errors are shown, not refused, so that htmx swaps them in)."""
    context = {"tree": tree, "form": tree.form, "test_input": test_input, "test_run": trace}
    if request.htmx and request.method == "GET":
        return editor_response(request, PANEL_TEMPLATE, context, "panel")
    editor = selectors.tree_editor(tree=tree)
    if trace is not None and trace.outcome != Outcome.INVALID:
        steps = trace.steps_by_node()
        for node in subtree_iter(editor.roots):
            node.test_step = steps.get(node.pk, NOT_REACHED)
    if not request.htmx:
        return tree_response(request, tree, status=status, editor=editor, test_input=test_input, test_run=trace)
    response = tree_response(request, tree, partial="tree", editor=editor, test_input=test_input, test_run=trace)
    response.write(render_to_string(f"{PANEL_TEMPLATE}#panel", {**context, "oob": True}, request=request))
    return response
