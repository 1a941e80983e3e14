"""The visitor's pages: the form, the post-submission page and its status (DESIGN §3.5)."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from eventtree import selectors, selectors_status
from eventtree.inputs.records import RecordForm
from eventtree.models import Form, Submission
from eventtree.services.records import SubmissionRefused, record_submit
from eventtree.views.types import HtmxHttpRequest

STATUS_TEMPLATE = "eventtree/submission.html"


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    # An unlisted form is left out here only: it still works at its address.
    forms = Form.objects.filter(login_required=False, listed=True).order_by("name")
    return render(request, "eventtree/home.html", {"forms": forms})


@require_http_methods(["GET", "POST"])
def form_submit(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_public(slug=slug)
    if form.login_required and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    record_form = RecordForm(
        request.POST if request.method == "POST" else None,
        fields=selectors.form_public_fields(form=form),
    )
    if request.method == "POST" and record_form.is_valid():
        try:
            _, submission = record_submit(form=form, values=record_form.record_values(), user=request.user)
        except SubmissionRefused as refusal:
            record_form.add_error(None, refusal.message)
        else:
            if submission is None:
                return redirect("eventtree:submitted", slug=form.slug)
            return redirect("eventtree:submission", slug=form.slug, token=submission.token)
    return render(request, "eventtree/form.html", {"form": form, "record_form": record_form})


@require_GET
def submitted_plain(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_public(slug=slug)
    message = selectors_status.submission_message(form=form, record=None)
    return render(request, "eventtree/submitted.html", {"form": form, "message": message})


@require_GET
def submission_status(request: HtmxHttpRequest, slug: str, token: str) -> HttpResponse:
    """The page, or its status partial for htmx polls; 304 while nothing it shows has changed,
    decided before the status is read (DESIGN §3.5: polls are cheap)."""
    etag = selectors_status.submission_etag(slug=slug, token=token, variant="partial" if request.htmx else "page")
    response = get_conditional_response(request, etag=etag)
    if response is None:
        submission = selectors_status.submission_get(slug=slug, token=token)
        status = selectors_status.submission_status(submission=submission)
        if request.htmx:
            response = status_partial(request, submission, status)
        else:
            response = render(request, STATUS_TEMPLATE, {
                "form": submission.form, "submission": submission, "status": status,
                "named_flags": named_flags(status),
                "message": selectors_status.submission_message(form=submission.form, record=submission.record),
            })
    patch_vary_headers(response, ["HX-Request"])
    return revalidated(response, etag)


def status_partial(request: HtmxHttpRequest, submission: Submission, status: dict) -> HttpResponse:
    response = render(request, f"{STATUS_TEMPLATE}#status",
                      {"submission": submission, "status": status, "named_flags": named_flags(status)})
    return HttpResponseStopPolling(response.content) if status["finished"] else response


@require_GET
def submission_status_json(request: HtmxHttpRequest, slug: str, token: str) -> HttpResponse:
    etag = selectors_status.submission_etag(slug=slug, token=token, variant="json")
    response = get_conditional_response(request, etag=etag)
    if response is None:
        submission = selectors_status.submission_get(slug=slug, token=token)
        response = JsonResponse(selectors_status.status_json(selectors_status.submission_status(submission=submission)))
    return revalidated(response, etag)


def revalidated(response: HttpResponse, etag: str) -> HttpResponse:
    """Let the browser keep `response` only if it asks again each time (with `etag`)."""
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache, private"
    return response


def named_flags(status: dict) -> list[tuple[str, bool]]:
    """The flags set by actions; the automatic `block:` flags are shown as blocks instead."""
    return [(name, value) for name, value in status["flags"].items() if not name.startswith("block:")]
