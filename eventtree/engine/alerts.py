"""Failure alerts: the owners of a form hear by email of the runs of its trees that failed.

A run has failed once one of its blocks failed for good (after its last attempt, or when its
worker was gone for good): it then ends `failed`, whatever its other blocks do. The first such
failure of a tree is mailed at once and opens the tree's window of `ALERT_MINUTES`; failures
during the window are gathered and mailed together when it closes, which opens the next window,
so a tree sends at most one email a window. The emails are outbox messages (engine/outbox.py):
written in the transaction that failed the block, sent once it commits, at most once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from eventtree.engine import dispatch
from eventtree.engine.outbox import outbox_deliver_on_commit
from eventtree.models import AlertWindow, Block, EventTree, Form, OutboxMessage

logger = logging.getLogger(__name__)

# The most addresses a form's alerts go to (its own list; a group's users come on top).
ALERT_EMAILS_MAX = 20
ERROR_SHOWN_CHARS = 300


def alert_email_problems(addresses: list[str]) -> list[str]:
    """What is wrong with a form's list of alert addresses, one message a bad address."""
    if len(addresses) > ALERT_EMAILS_MAX:
        return [f"At most {ALERT_EMAILS_MAX} addresses."]
    problems = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            problems.append(f"{address!r} is not an email address.")
    return problems


def alert_recipients(form: Form) -> list[str]:
    """The form's alert addresses and the emails of its alert group's active users, each once."""
    addresses = list(form.alert_emails)
    if form.alert_group_id:
        addresses += get_user_model().objects.filter(
            groups=form.alert_group_id, is_active=True
        ).exclude(email="").order_by("pk").values_list("email", flat=True)
    unique: dict[str, str] = {}
    for address in addresses:
        unique.setdefault(address.lower(), address)
    return list(unique.values())


def alert_window_seconds() -> float:
    return settings.EVENTTREE["ALERT_MINUTES"] * 60


def alert_block_failed(block_id: int) -> None:
    """Alert the owners of the block's form that its run failed: at once if the tree's window is
    closed (which opens it), else with the window's digest. Call inside the transaction that
    marked the block failed for good, after that update; nothing is sent if it rolls back.

    An alert that cannot be written (bad data in the form's settings) is logged and left out:
    it rolls back to its own savepoint, never the failure it reports.
    """
    try:
        with transaction.atomic():
            block_failure_alert(block_id)
    except Exception:
        logger.exception("Block %s failed; its failure alert could not be written", block_id)


def block_failure_alert(block_id: int) -> None:
    """See `alert_block_failed`. The tree's window row is locked (on SQLite the write transaction
    is), so two blocks failing at the same moment are not both mailed at once."""
    tree_id, emails, group_id = Block.objects.values_list(
        "run__tree_id", "run__tree__form__alert_emails", "run__tree__form__alert_group_id"
    ).get(pk=block_id)
    if not (emails or group_id):  # nobody to tell: no window either
        return
    now = timezone.now()
    window = window_locked(tree_id, now)
    if window.closes_at > now:
        if not window.gathered:  # the window's first gathered failure: its digest is woken at its end
            dispatch.alert_digest_schedule(tree_id=tree_id, at=window.closes_at)
        window.gathered = [*window.gathered, block_id]
        window.save(update_fields=["gathered"])
        return
    # Blocks still gathered when a window is found closed lost their digest's wake-up: they go too.
    block_ids = [*window.gathered, block_id]
    window.closes_at, window.gathered = now + timedelta(seconds=alert_window_seconds()), []
    window.save(update_fields=["closes_at", "gathered"])
    alert_write(tree_id=tree_id, block_ids=block_ids, now=now, digest=False)


def window_locked(tree_id: int, now: datetime) -> AlertWindow:
    """The tree's alert window, locked; made (closed) if the tree had none."""
    window = AlertWindow.objects.select_for_update().filter(tree_id=tree_id).first()
    if window is not None:
        return window
    try:
        with transaction.atomic():  # a savepoint: a failure of the same tree may make it first
            return AlertWindow.objects.create(tree_id=tree_id, closes_at=now)
    except IntegrityError:
        return AlertWindow.objects.select_for_update().get(tree_id=tree_id)


def alert_digest_send(tree_id: int) -> int:
    """Mail the failures gathered during the tree's window, once it has closed, and open the next
    window. Returns how many failed blocks were mailed (0: nothing was gathered, or the window
    is still open, and then its digest is woken again at its end)."""
    with transaction.atomic():
        window = AlertWindow.objects.select_for_update().filter(tree_id=tree_id).first()
        if window is None or not window.gathered:
            return 0
        now = timezone.now()
        if window.closes_at > now:  # woken early (another machine's clock)
            dispatch.alert_digest_schedule(tree_id=tree_id, at=window.closes_at)
            return 0
        block_ids = window.gathered
        window.closes_at, window.gathered = now + timedelta(seconds=alert_window_seconds()), []
        window.save(update_fields=["closes_at", "gathered"])
        return alert_write(tree_id=tree_id, block_ids=block_ids, now=now, digest=True)


def alert_write(*, tree_id: int, block_ids: list[int], now: datetime, digest: bool) -> int:
    """Write the alert of the failed `block_ids` (those that still exist) to the outbox, to be
    sent when the transaction commits. Returns how many blocks it names."""
    blocks = list(Block.objects.filter(pk__in=block_ids).select_related("run__tree__form").order_by("run_id", "pk"))
    recipients = alert_recipients(blocks[0].run.tree.form) if blocks else []
    if not recipients:
        return 0
    tree = blocks[0].run.tree
    form = tree.form
    payload = {"to": recipients, "subject": alert_subject(form, tree, blocks, digest=digest),
               "body": alert_body(form, tree, blocks), "html": None}
    message = OutboxMessage.objects.create(
        run=blocks[-1].run, key=f"alert:tree-{tree_id}:{now.isoformat()}", kind="send_email", payload=payload
    )
    outbox_deliver_on_commit([message])
    return len(blocks)


def alert_subject(form: Form, tree: EventTree, blocks: list[Block], *, digest: bool) -> str:
    runs = sorted({block.run_id for block in blocks})
    if len(runs) == 1:
        text = f"Run {runs[0]} of {tree.name} ({form.name}) failed"
    else:
        text = f"{len(runs)} runs of {tree.name} ({form.name}) failed"
    if digest:
        text = f"{text}, since the last alert"
    return " ".join(text.split())  # a header holds no line break


def alert_body(form: Form, tree: EventTree, blocks: list[Block]) -> str:
    """Plain text: the names and errors are shown as typed, nothing in them is markup."""
    minutes = settings.EVENTTREE["ALERT_MINUTES"]
    lines = [f"Runs of the tree “{tree.name}” of the form “{form.name}” failed:", ""]
    for block in blocks:
        error = " ".join(block.last_error.split())
        if len(error) > ERROR_SHOWN_CHARS:
            error = error[:ERROR_SHOWN_CHARS] + "…"
        lines += [
            f"Run {block.run_id} (record {block.run.record_id}): “{block.label}” failed after "
            f"{block.attempts} attempt{'s' if block.attempts != 1 else ''}: {error or 'no error recorded'}",
            run_url(block.run_id),
            "",
        ]
    lines.append(f"Alerts of this tree are sent at most once every {minutes:g} minutes; the failures in "
                 "between come together in one email at the end of that time.")
    return "\n".join(lines)


def run_url(run_id: int) -> str:
    try:
        path = reverse("builder:run", args=[run_id])
    except NoReverseMatch:
        path = f"/builder/runs/{run_id}/"
    return settings.EVENTTREE["BASE_URL"].rstrip("/") + path
