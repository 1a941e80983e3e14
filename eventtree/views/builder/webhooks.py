"""Builder panel of a form's webhook (DESIGN §3.13): rotate its secret, or disable it."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from eventtree import selectors
from eventtree.models import Form
from eventtree.permissions import builder_permission_required
from eventtree.services.webhooks import webhook_secret_disable, webhook_secret_rotate
from eventtree.views.types import HtmxHttpRequest

PANEL_TEMPLATE = "eventtree/builder/form_webhook.html"


@builder_permission_required("eventtree.change_form")
@require_POST
def webhook_rotate(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    webhook_secret_rotate(form=form)
    return panel_response(request, form, "Webhook enabled with a new secret: the old one no longer works.")


@builder_permission_required("eventtree.change_form")
@require_POST
def webhook_disable(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    form = selectors.form_get(slug=slug)
    webhook_secret_disable(form=form)
    return panel_response(request, form, "Webhook disabled: every request to it is refused.")


def panel_response(request: HtmxHttpRequest, form: Form, message: str) -> HttpResponse:
    """The panel again for htmx; otherwise back to the form's page, with the message."""
    if not request.htmx:
        messages.success(request, message)
        return redirect("builder:form", slug=form.slug)
    response = render(request, PANEL_TEMPLATE, {"form": form, "webhook_message": message})
    response["Cache-Control"] = "no-store"  # it shows a secret
    return response
