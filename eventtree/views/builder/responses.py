"""How every builder screen answers: the page, or its named partial for htmx."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

from eventtree.views.types import HtmxHttpRequest


def editor_response(request: HtmxHttpRequest, template: str, context: dict[str, Any],
                    partial: str | None = None, status: int = 200) -> HttpResponse:
    """The whole page, or its named partial for an htmx request; never cached (back shows now)."""
    name = f"{template}#{partial}" if partial and request.htmx else template
    response = render(request, name, context, status=status)
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ["HX-Request"])
    return response


def leave_to(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """Go to `url` after a change that removed the current page (htmx follows it as a full load)."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
