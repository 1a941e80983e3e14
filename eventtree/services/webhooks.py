"""Webhooks in (DESIGN §3.13): a form's secret, and a record submitted by another system, answered
once per Idempotency-Key."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from eventtree.models import IDEMPOTENCY_HOURS, Form, Submission, WebhookDelivery
from eventtree.services.records import SubmissionRefused, record_submit

IN_PROGRESS = {"error": "A request with this Idempotency-Key is still being processed. Try again."}


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: dict[str, Any]


def webhook_secret_rotate(*, form: Form) -> str:
    """Give `form` a new random secret, which replaces the old one at once; returns it."""
    secret = secrets.token_urlsafe(32)
    Form.objects.filter(pk=form.pk).update(webhook_secret=secret, updated_at=timezone.now())
    form.webhook_secret = secret
    return secret


def webhook_secret_disable(*, form: Form) -> None:
    """Remove the secret of `form`: its webhook refuses every request until a rotate."""
    Form.objects.filter(pk=form.pk).update(webhook_secret="", updated_at=timezone.now())
    form.webhook_secret = ""


def webhook_deliver(
    *, form: Form, values: dict[str, Any], idempotency_key: str | None,
    status_url: Callable[[Submission], str],
) -> WebhookAnswer:
    """Submit `values` (cleaned by the public form's rules) as a new record of `form`, firing its
    `submitted` trees as a visitor's submit does.

    With an `idempotency_key` already used for `form` within IDEMPOTENCY_HOURS, nothing is
    created and the first answer is given again (a caller may look it up first, with
    selectors_webhooks.webhook_delivery_earlier). The key is stored in the submit's transaction:
    of two concurrent requests with one key, the unique constraint lets one run and the other
    waits for it, then gives its answer. `status_url` makes the address of a submission's status.
    """
    if not idempotency_key:
        return webhook_submit(form=form, values=values, status_url=status_url)
    since = timezone.now() - timedelta(hours=IDEMPOTENCY_HOURS)
    # Keys older than a day are forgotten here, a form at a time (one indexed DELETE), so that an
    # expired key can be used again and the table holds only a day of each form's keys.
    WebhookDelivery.objects.filter(form=form, created_at__lt=since).delete()
    inserted = False
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                form=form, key=idempotency_key, status_code=409, body=IN_PROGRESS, created_at=timezone.now())
            inserted = True
            answer = webhook_submit(form=form, values=values, status_url=status_url)
            WebhookDelivery.objects.filter(pk=delivery.pk).update(status_code=answer.status, body=answer.body)
    except IntegrityError:
        if inserted:
            raise
        # Another request with this key committed first, while this one waited for it.
        return delivery_answer(form=form, key=idempotency_key, since=since) or WebhookAnswer(409, IN_PROGRESS)
    return answer


def webhook_submit(
    *, form: Form, values: dict[str, Any], status_url: Callable[[Submission], str]
) -> WebhookAnswer:
    try:
        record, submission = record_submit(form=form, values=values)
    except SubmissionRefused as refusal:
        # The visitor's message: the fail action's own, or a neutral one (never the error).
        return WebhookAnswer(422, {"errors": {"__all__": [refusal.message]}})
    return WebhookAnswer(202, {"id": record.pk, "status_url": status_url(submission) if submission else None})


def delivery_answer(*, form: Form, key: str, since: datetime) -> WebhookAnswer | None:
    delivery = WebhookDelivery.objects.filter(form=form, key=key, created_at__gte=since).first()
    return None if delivery is None else WebhookAnswer(delivery.status_code, delivery.body)
