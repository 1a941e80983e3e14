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
from eventtree.models import Form, Submission
from eventtree.services.webhooks import webhook_deliver
from eventtree.views.limits import body_limit

IDEMPOTENCY_KEY_MAX = 200


class Refused(Exception):
    """The request is answered with `response` before any record is made."""

    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.response = answer(status, body, headers)


@csrf_exempt
# The view answers its own, smaller limit (EVENTTREE_WEBHOOK_MAX_BODY_BYTES) in JSON, where the
# middleware would answer the site's limit with an HTML page.
@body_limit(sys.maxsize)
@require_POST
def webhook_receive(request: HttpRequest, slug: str) -> JsonResponse:
    try:
        form, body, key = request_read(request, slug)
        # A repeat gets the first answer before its body is checked again: the form may have
        # changed since, and the record was made.
        earlier = selectors_webhooks.webhook_delivery_earlier(form=form, key=key) if key else None
        if earlier is not None:
            return answer(earlier.status_code, earlier.body)
        values = webhook_values(body, fields=selectors.form_public_fields(form=form))
    except Refused as refused:
        return refused.response
    except BodyInvalid as invalid:
        return answer(400, {"errors": invalid.errors})

    def status_url(submission: Submission) -> str:
        return request.build_absolute_uri(reverse("eventtree:submission-json", args=[form.slug, submission.token]))

    delivered = webhook_deliver(form=form, values=values, idempotency_key=key or None, status_url=status_url)
    return answer(delivered.status, delivered.body)


@sensitive_variables("secret")
def request_read(request: HttpRequest, slug: str) -> tuple[Form, bytes, str]:
    """The form, the body and the Idempotency-Key ("" if none) of an authorised request of a
    size the webhook takes; raises Refused otherwise."""
    secret = selectors_webhooks.webhook_secret(slug=slug)
    form = selectors_webhooks.webhook_form(slug=slug) if secret is not None else None
    if form is None:
        raise Refused(404, {"error": "No such form."})
    if not secret or not bearer_matches(request, secret):
        raise Refused(401, {"error": "Send the form's webhook secret as Authorization: Bearer <secret>."},
                      headers={"WWW-Authenticate": 'Bearer realm="webhooks"'})
    if request.content_type != "application/json":
        raise Refused(415, {"error": "Send the values as a JSON object, with Content-Type: application/json."})
    limit = settings.EVENTTREE_WEBHOOK_MAX_BODY_BYTES
    body = body_read(request, limit)
    if body is None:
        raise Refused(413, {"error": f"The body is over {limit} bytes."})
    key = request.headers.get("Idempotency-Key", "")
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise Refused(400, {"errors": {WHOLE_BODY: [f"The Idempotency-Key is over {IDEMPOTENCY_KEY_MAX} characters."]}})
    return form, body, key


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
