"""Builder screens of records: list, detail with runs, the edit form that fires `updated`, and
cancel/retry of a run's blocks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import get_text_list
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from eventtree import selectors
from eventtree.inputs.records import RecordForm
from eventtree.models import Block, Field, FieldType
from eventtree.permissions import builder_permission_required
from eventtree.services.records import SubmissionRefused, record_update
from eventtree.services.runs import BlockStateError, block_cancel, block_retry
from eventtree.views.builder.responses import leave_to
from eventtree.views.types import HtmxHttpRequest

PAGE_SIZE = 25


@builder_permission_required("eventtree.view_record")
@require_GET
def record_list(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    query = request.GET.get("q", "").strip()
    page = Paginator(selectors.record_list(form=form, query=query), PAGE_SIZE).get_page(request.GET.get("page"))
    columns = list(form.fields.all())[:6]
    rows = [(record, [record.values.get(field.name) for field in columns]) for record in page]
    template = "eventtree/builder/records.html#results" if request.htmx else "eventtree/builder/records.html"
    return render(request, template, {"form": form, "page": page, "rows": rows, "query": query, "columns": columns})


@builder_permission_required("eventtree.view_record")
@require_GET
def record_detail(request: HtmxHttpRequest, record_id: int) -> HttpResponse:
    record = selectors.record_get(record_id=record_id)
    fields = list(record.form.fields.all())
    known = {field.name for field in fields}
    values = [(field, record.values.get(field.name)) for field in fields]
    extra = [(name, value) for name, value in record.values.items() if name not in known]
    return render(request, "eventtree/builder/record.html", {
        "form": record.form, "record": record, "values": values, "extra_values": extra,
        "runs": selectors.record_runs(record=record), "edit": edit_submission(request),
    })


@builder_permission_required("eventtree.change_record")
@require_http_methods(["GET", "POST"])
def record_edit(request: HtmxHttpRequest, record_id: int) -> HttpResponse:
    """Write only the fields the person changed: a block may have set others since the page opened."""
    record = selectors.record_get(record_id=record_id)
    fields = list(record.form.fields.all())
    record_form = RecordForm(
        request.POST if request.method == "POST" else None,
        fields=fields,
        initial=initial_values(fields, record.values),
        track_changes=True,
    )
    if request.method == "POST" and record_form.is_valid():
        changed = record_form.changed_record_values()
        try:
            submission = record_update(record=record, values=changed)
        except SubmissionRefused as refusal:
            record_form.add_error(None, refusal.message)
        else:
            started = submission.runs.filter(record=record).count() if submission else 0
            messages.success(request, saved_message([f for f in fields if f.name in changed], started))
            query = f"?edit={submission.pk}" if submission else ""
            return redirect(reverse("builder:record", args=[record.pk]) + query)
    return render(request, "eventtree/builder/record_edit.html", {
        "form": record.form, "record": record, "record_form": record_form,
    })


def saved_message(changed: list[Field], started: int) -> str:
    """What an edit saved and how many runs of the record it started (the record page marks them)."""
    labels = [field.display_label for field in changed]
    saved = f"Saved {get_text_list(labels, 'and')}." if labels else "Saved: no value changed."
    if not started:
        return f"{saved} No tree ran."
    if started == 1:
        return f"{saved} The edit started 1 run: it is listed below."
    return f"{saved} The edit started {started} runs: they are listed below."


@builder_permission_required(("eventtree.change_block", "eventtree.change_run"))
@require_POST
def block_action(request: HtmxHttpRequest, block_id: int, action: str) -> HttpResponse:
    """Cancel a pending block or retry a failed one (DESIGN §3.9), then show the page it was
    posted from (`next`, a path of this site: the run's page) or else the record.

    A run's blocks are part of the run: who may change runs may cancel and retry them, as may who
    may change blocks (the admin's block actions)."""
    block = get_object_or_404(Block.objects.select_related("run"), pk=block_id)
    service, done = {"cancel": (block_cancel, "cancelled"), "retry": (block_retry, "queued again")}[action]
    try:
        service(block_id=block.pk)
    except BlockStateError as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Block “{block.label or block.pk}” {done}.")
    return leave_to(request, local_next(request) or reverse("builder:record", args=[block.run.record_id]))


def local_next(request: HtmxHttpRequest) -> str | None:
    """The posted `next`, if it is a URL of this site (never another host's)."""
    url = request.POST.get("next", "")
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return None


def edit_submission(request: HtmxHttpRequest) -> int | None:
    """The submission of the edit that led here (`?edit=`): its runs are marked on the page."""
    edit = request.GET.get("edit", "")
    return int(edit) if edit.isdigit() else None


def initial_values(fields: list[Field], values: dict[str, Any]) -> dict[str, Any]:
    """Stored values as the form's widgets show them (dates as dates, moments to the minute).

    A moment loses its seconds here, as in its widget, so that an untouched one is not "changed".
    """
    initial: dict[str, Any] = {}
    for field in fields:
        value = values.get(field.name)
        if isinstance(value, str) and field.type == FieldType.DATE:
            value = parse_date(value) or value
        elif isinstance(value, str) and field.type == FieldType.DATETIME:
            moment = parse_datetime(value)
            if isinstance(moment, dt.datetime):
                if timezone.is_aware(moment):
                    moment = timezone.localtime(moment)
                value = moment.replace(tzinfo=None, second=0, microsecond=0)
        if value is not None:
            initial[field.name] = value
    return initial
