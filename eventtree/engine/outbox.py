"""Delivery of side effects outside the database (DESIGN §3.3): at most once per outbox row."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from eventtree.actions.registry import registry
from eventtree.models import OutboxMessage, OutboxState

logger = logging.getLogger(__name__)


def outbox_deliver_on_commit(messages: list[OutboxMessage]) -> None:
    """Deliver in this process once the transaction that wrote the messages commits (a worker
    finishing a block). Call inside that transaction."""
    for message in messages:
        transaction.on_commit(lambda message=message: outbox_deliver(message.pk, message=message), robust=True)


def outbox_deliver(message_id: int, *, message: OutboxMessage | None = None) -> bool:
    """Perform one message if nobody has claimed it yet. Returns whether this call sent it.
    `message`: the row as its writer made it, which spares reading it again."""
    claimed = OutboxMessage.objects.filter(pk=message_id, state=OutboxState.PENDING).update(
        state=OutboxState.SENDING
    )
    if not claimed:
        return False
    if message is None:
        message = OutboxMessage.objects.get(pk=message_id)
    try:
        registry.get(message.kind).deliver(message.payload)
    except Exception as exc:
        logger.exception("Outbox message %s (%s) failed", message.pk, message.kind)
        # Not retried: a failure after a partial send must not send twice.
        OutboxMessage.objects.filter(pk=message_id).update(
            state=OutboxState.FAILED, error=f"{type(exc).__name__}: {exc}"
        )
        return False
    OutboxMessage.objects.filter(pk=message_id).update(
        state=OutboxState.SENT, sent_at=timezone.now()
    )
    return True


def outbox_pending_ids(*, older_than_seconds: int) -> list[int]:
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        OutboxMessage.objects.filter(state=OutboxState.PENDING, created_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:500]
    )
