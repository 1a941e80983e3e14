"""Webhooks in: POST /hooks/<slug>/ takes a JSON object of field values from another system,
authenticated by the form's secret (DESIGN §3.13). Every answer is JSON; no session is opened and
no cookie set."""

from __future__ import annotations

import hmac
import sys

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from eventtree import selectors, selectors_webhooks
from eventtree.inputs.webhooks import WHOLE_BODY, BodyInvalid, webhook_values
from eventtree.models import Submission
from eventtree.services.webhooks import webhook_deliver
from eventtree.views.limits import body_limit

IDEMPOTENCY_KEY_MAX = 200


@csrf_exempt
# The view answers its own, smaller limit (EVENTTREE_WEBHOOK_MAX_BODY_BYTES) in JSON, where the
# middleware would answer the site's limit with an HTML page.
@body_limit(sys.maxsize)
@require_POST
@sensitive_variables("secret")
def webhook_receive(request: HttpRequest, slug: str) -> JsonResponse:
    secret = selectors_webhooks.webhook_secret(slug=slug)
    form = selectors_webhooks.webhook_form(slug=slug) if secret is not None else None
    if form is None:
        return answer(404, {"error": "No such form."})
    if not secret or not bearer_matches(request, secret):
        return answer(401, {"error": "Send the form's webhook secret as Authorization: Bearer <secret>."},
                      headers={"WWW-Authenticate": 'Bearer realm="webhooks"'})
    if request.content_type != "application/json":
        return answer(415, {"error": "Send the values as a JSON object, with Content-Type: application/json."})
    body = body_read(request, settings.EVENTTREE_WEBHOOK_MAX_BODY_BYTES)
    if body is None:
        return answer(413, {"error": f"The body is over {settings.EVENTTREE_WEBHOOK_MAX_BODY_BYTES} bytes."})
    key = request.headers.get("Idempotency-Key", "")
    try:
        if len(key) > IDEMPOTENCY_KEY_MAX:
            raise BodyInvalid({WHOLE_BODY: [f"The Idempotency-Key is over {IDEMPOTENCY_KEY_MAX} characters."]})
        values = webhook_values(body, fields=selectors.form_public_fields(form=form))
    except BodyInvalid as invalid:
        return answer(400, {"errors": invalid.errors})

    def status_url(submission: Submission) -> str:
        return request.build_absolute_uri(reverse("eventtree:submission-json", args=[form.slug, submission.token]))

    delivered = webhook_deliver(form=form, values=values, idempotency_key=key or None, status_url=status_url)
    return answer(delivered.status, delivered.body)


@sensitive_variables("secret", "given")
def bearer_matches(request: HttpRequest, secret: str) -> bool:
    """Whether the request's `Authorization: Bearer …` is `secret`, compared in constant time."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), secret.encode())


def body_read(request: HttpRequest, limit: int) -> bytes | None:
    """The body, or None if it is over `limit` bytes: refused on its declared length unread, and
    never more than `limit` + 1 bytes read."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def answer(status: int, body: dict, headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse(body, status=status, headers=headers)
    response["Cache-Control"] = "no-store"
    return response
