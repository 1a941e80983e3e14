"""Builder screens of CSV imports (DESIGN §3.7, §5 "records in bulk"): a form's imports with the
upload, and an import's page, which follows its chunks until the last one has finished."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods

from eventtree import selectors, selectors_imports
from eventtree.inputs.imports import ImportUploadForm
from eventtree.permissions import builder_permission_required
from eventtree.services.imports import ImportRefused, import_create
from eventtree.views.builder.responses import editor_response
from eventtree.views.builder.runs import polled
from eventtree.views.limits import body_limit
from eventtree.views.types import HtmxHttpRequest

LIST_TEMPLATE = "eventtree/builder/imports.html"
IMPORT_TEMPLATE = "eventtree/builder/import.html"


# The file may be EVENTTREE_IMPORT_MAX_BYTES; the body around it a little more, so that a larger
# file gets the form's message rather than the 413 page.
@body_limit(settings.EVENTTREE_IMPORT_MAX_BYTES + 64 * 1024)
@builder_permission_required("eventtree.view_record", on_post="eventtree.add_record")
@require_http_methods(["GET", "POST"])
def import_list(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The form's imports, newest first, and the upload: a file whose header does not fit the
    form is refused here, with every problem; one that does goes to its import's page."""
    form = selectors.form_get(slug=slug)
    upload_form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and upload_form.is_valid():
        upload = upload_form.cleaned_data["file"]
        try:
            bulk_import = import_create(form=form, stream=upload, file_name=upload.name, user=request.user)
        except ImportRefused as refusal:
            for problem in refusal.problems:
                upload_form.add_error("file", problem)
        else:
            return redirect("builder:import", import_id=bulk_import.pk)
    return editor_response(request, LIST_TEMPLATE, {
        "form": form, "upload_form": upload_form, "imports": selectors_imports.import_list(form=form)[:50],
    }, status=400 if upload_form.errors else 200)


@builder_permission_required("eventtree.view_record")
@require_GET
def import_detail(request: HtmxHttpRequest, import_id: int) -> HttpResponse:
    """An import's page; an htmx poll gets its progress alone, and 286 (stop) once it finished."""
    progress = selectors_imports.import_progress(import_id=import_id)
    response = editor_response(request, IMPORT_TEMPLATE, {
        "progress": progress, "bulk_import": progress.bulk_import, "form": progress.bulk_import.form,
    }, "progress")
    return polled(request, response, live=not progress.state.is_finished)
