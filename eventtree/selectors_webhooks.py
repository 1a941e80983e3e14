"""Reads of webhooks in (DESIGN §3.13): the form a webhook request names and its secret."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from eventtree.engine.form_cache import form_cached
from eventtree.models import IDEMPOTENCY_HOURS, Form, WebhookDelivery


def webhook_secret(*, slug: str) -> str | None:
    """The webhook secret of the form `slug`: empty when its webhook is off, None when there is no
    such form. One indexed query: the secret is never cached."""
    return next(iter(Form.objects.filter(slug=slug).values_list("webhook_secret", flat=True)), None)


def webhook_form(*, slug: str) -> Form | None:
    """The form `slug` with its fields, from the cache; None if it was deleted meanwhile."""
    try:
        return form_cached(slug=slug)
    except Form.DoesNotExist:
        return None



def webhook_delivery_earlier(*, form: Form, key: str) -> WebhookDelivery | None:
    """The answer already given to `key` for `form` within IDEMPOTENCY_HOURS, if any."""
    since = timezone.now() - timedelta(hours=IDEMPOTENCY_HOURS)
    return WebhookDelivery.objects.filter(form=form, key=key, created_at__gte=since).first()
