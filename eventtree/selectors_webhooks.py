"""Reads of webhooks in (DESIGN §3.13): the form a webhook request names and its secret."""

from __future__ import annotations

from eventtree.engine.form_cache import form_cached
from eventtree.models import Form


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

