"""Side effects outside the database (DESIGN §3.3).

Deliveries (send_email, alerts): written in the transaction that decides them, performed after it
commits, at most once per outbox row. Calls (http_request in a block): made by the block's runner
outside its transaction, exactly once per block and node (`outbox_call_make`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from eventtree.actions.base import BaseAction
from eventtree.actions.registry import registry
from eventtree.engine.context import ExternalCallPending
from eventtree.errors import ActionFailed
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


def outbox_call_make(call: ExternalCallPending) -> None:
    """Make a block's external call once, and record its outcome under `call.key`.

    Call outside any transaction (the block's runner, between two walks of the block): the row is
    written `sending` and committed before the request goes out, and the outcome (`sent` with
    `payload["response"]`, or `failed` with `error`) is committed after it, each in a commit of
    its own, so that both outlive a rollback of the block. A row found `sent` or `failed` is left
    alone: nothing is sent again. A row found `sending` was left by a worker that stopped
    mid-call: its request is sent again, as it was written, with the same Idempotency-Key (the
    one case where a service is called twice, for it to deduplicate).
    """
    # The call's Idempotency-Key is its key; a call made again after a staff retry gets a new one,
    # or a service that deduplicates would answer with the failure it answered before.
    retried = OutboxMessage.objects.filter(key__startswith=f"{call.key}:failed").count()
    payload = {**call.payload, "idempotency_key": f"{call.key}:retry{retried}" if retried else call.key}
    message, created = OutboxMessage.objects.get_or_create(
        key=call.key,
        defaults={"run_id": call.run_id, "kind": call.kind, "payload": payload, "state": OutboxState.SENDING},
    )
    if message.state in (OutboxState.SENT, OutboxState.FAILED):
        return
    if not created:
        logger.warning("Outbox call %s was left sending: sent again with the same Idempotency-Key", message.key)
    response, error = None, ""
    try:
        response = registry.get(message.kind).call(
            message.payload, idempotency_key=message.payload.get("idempotency_key") or message.key
        )
    except ActionFailed as failure:
        error, response = failure.detail, getattr(failure, "response", None)
    except Exception as exc:  # not retried either: the request may have gone out
        logger.exception("Outbox call %s (%s) raised", message.key, message.kind)
        error = f"{type(exc).__name__}: {exc}"
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=OutboxState.FAILED if error else OutboxState.SENT,
        error=error,
        payload={**message.payload, "response": response},
        sent_at=timezone.now(),
    )


def outbox_calls_forget_failed(*, block_id: int, run_id: int) -> int:
    """Let a block's failed calls be made again (a staff retry of the block): their rows keep
    their history under a key of their own (`…:failed<id>`), freeing the call's key; the call
    made again sends an Idempotency-Key of its own (`…:retry<n>`)."""
    calling = [action.key for action in registry if type(action).call is not BaseAction.call]
    failed = OutboxMessage.objects.filter(
        run_id=run_id, key__startswith=f"r{run_id}:b{block_id}:", kind__in=calling, state=OutboxState.FAILED
    ).exclude(key__contains=":failed")
    forgotten = 0
    for message in failed.only("pk", "key"):
        forgotten += OutboxMessage.objects.filter(pk=message.pk).update(key=f"{message.key}:failed{message.pk}")
    return forgotten
