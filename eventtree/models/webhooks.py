from __future__ import annotations

from django.db import models

from eventtree.models.forms import Form

# How long an Idempotency-Key is remembered (DESIGN §3.13).
IDEMPOTENCY_HOURS = 24


class WebhookDelivery(models.Model):
    """The answer given to a webhook request that carried an Idempotency-Key, so that the same
    key repeated for the same form within IDEMPOTENCY_HOURS gets that answer again and creates
    nothing new. Written in the transaction that saves the record: the unique constraint decides
    which of two concurrent requests with one key runs."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["form", "key"], name="webhook_key_unique_per_form")]
        # The pruning of a form's keys older than IDEMPOTENCY_HOURS.
        indexes = [models.Index(fields=["form", "created_at"], name="webhook_delivery_age")]

    def __str__(self) -> str:
        return f"Webhook delivery {self.key!r} of form {self.form_id}"
