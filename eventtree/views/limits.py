"""A cap on the size of a request body, checked before anything reads the body.

Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not count file parts, so without this a visitor could
post a form with a file of any size (written to a temporary file before the view runs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

View = Callable[..., HttpResponse]


def body_limit(max_bytes: int) -> Callable[[View], View]:
    """Let this view take a body of up to `max_bytes` instead of EVENTTREE_MAX_BODY_BYTES."""

    def decorator(view: View) -> View:
        view.max_body_bytes = max_bytes  # type: ignore[attr-defined]
        return view

    return decorator


class RequestBodyLimitMiddleware:
    """Answer 413 to a request whose declared length is over its view's limit, unread.

    List it before CsrfViewMiddleware, which reads the body of every POST.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: View, args: Any, kwargs: Any) -> HttpResponse | None:
        limit = getattr(view, "max_body_bytes", settings.EVENTTREE_MAX_BODY_BYTES)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= limit:
            return None
        return render(request, "eventtree/too_large.html", {"limit_mb": limit / (1024 * 1024)}, status=413)
