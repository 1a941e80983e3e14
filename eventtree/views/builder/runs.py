"""Builder screens of runs (DESIGN §3.9, §5 "runs"): the list with its filters, a run's page
(which refreshes itself while the run is unfinished), and replay. Cancel and retry of a block are
`records.block_action`, which comes back here when posted from a run's page."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from eventtree import selectors_runs
from eventtree.inputs.runs import RunFilterForm
from eventtree.models import Node, Run
from eventtree.permissions import builder_permission_required
from eventtree.selectors_runs import RunState
from eventtree.services import runs as run_services
from eventtree.views.builder.responses import editor_response
from eventtree.views.types import HtmxHttpRequest

PAGE_SIZE = 50
LIST_TEMPLATE = "eventtree/builder/runs.html"
RUN_TEMPLATE = "eventtree/builder/run.html"
NODE_RUNS_TEMPLATE = "eventtree/builder/node_runs.html"


@builder_permission_required("eventtree.view_run")
@require_GET
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    """Runs newest first, filtered; an htmx poll gets the results alone, and is told to stop
    (286) once no run on the page is unfinished."""
    filters = RunFilterForm(request.GET)
    if not filters.is_valid():
        return editor_response(request, LIST_TEMPLATE, {"filters": filters, "page": None}, "results", status=400)
    page = Paginator(selectors_runs.run_list(**filters.cleaned_data), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    live = any(not RunState(run.state).is_finished for run in page)
    response = editor_response(request, LIST_TEMPLATE, {
        "filters": filters, "page": page, "query": query.urlencode(), "live": live,
    }, "results")
    return polled(request, response, live=live)


@builder_permission_required("eventtree.view_run")
@require_GET
def run_detail(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    """A run's page, read-only but for its actions; an htmx poll gets what changes (`live`)."""
    page = selectors_runs.run_page(run_id=run_id)
    response = editor_response(request, RUN_TEMPLATE, {
        "page": page, "run": page.run, "tree": page.run.tree, "form": page.run.tree.form,
    }, "live")
    return polled(request, response, live=not page.state.is_finished)


@builder_permission_required("eventtree.change_run")
@require_POST
def run_replay(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    """Replay a finished run on its record as it is now, then show the new run."""
    run = get_object_or_404(Run, pk=run_id)
    try:
        replay = run_services.run_replay(run_id=run.pk, user=request.user)
    except run_services.RunReplayRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("builder:run", run_id=run.pk)
    messages.success(request, f"Replay of run {run.pk}: this new run walks the same version on the record as it is now.")
    return redirect("builder:run", run_id=replay.pk)


@builder_permission_required("eventtree.view_run")
@require_GET
def node_runs(request: HtmxHttpRequest, node_id: int) -> HttpResponse:
    """What a node of the editor did in its tree's last runs; over htmx the list alone, opened
    under the node."""
    node = get_object_or_404(Node.objects.select_related("tree__form"), pk=node_id)
    steps = selectors_runs.node_outcomes(tree_id=node.tree_id, node_key=node.pk)
    return editor_response(request, NODE_RUNS_TEMPLATE, {
        "node": node, "tree": node.tree, "form": node.tree.form, "steps": steps,
    }, "outcomes")


def polled(request: HtmxHttpRequest, response: HttpResponse, *, live: bool) -> HttpResponse:
    """`response`, with HTTP 286 (stop polling) for an htmx poll of a page where nothing is left
    to wait for; the headers of `editor_response` are kept."""
    if request.htmx and not request.htmx.history_restore_request and not live:
        response.status_code = HttpResponseStopPolling.status_code
    return response
