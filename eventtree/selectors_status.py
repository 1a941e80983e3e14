"""Reads for the visitor's post-submission page (DESIGN §3.5): the status of a submission, its
ETag, its message, and how the page words each block in the visitor's language."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import dateformat, timezone

from eventtree.engine.poll_stamps import submission_stamp
from eventtree.engine.templating import render_value
from eventtree.kinds import kind_registry
from eventtree.models import Block, BlockState, Flag, Form, Progress, Record, Submission

logger = logging.getLogger(__name__)

# What the status dict holds for the page only; the status JSON leaves these out.
PAGE_ONLY_KEYS = ("cancelled", "rows")
PAGE_ONLY_BLOCK_KEYS = ("name", "expected")


def submission_get(*, slug: str, token: str) -> Submission:
    return get_object_or_404(
        Submission.objects.select_related("form", "record"), token=token, form__slug=slug
    )


def submission_status(*, submission: Submission) -> dict[str, Any]:
    """The state of every run of a submission, as the status JSON (DESIGN §3.5) carries it, with
    what only the page shows: each block's `name` (`block_name`) and `expected` (when a pending
    Delay is due, `expected_words`); `rows`, the blocks the page lists (those the builder named,
    and the others while they are under way); and `cancelled` ("all", "some" or "": how many of
    the blocks of a finished submission were cancelled).

    A constant number of queries: blocks, flags, progress.
    """
    blocks = list(
        Block.objects.filter(run__submission=submission)
        .select_related("run__tree")
        .order_by("run_id", "id")
    )
    flags: dict[str, bool] = {}
    for name, value in Flag.objects.filter(run__submission=submission).values_list("name", "value"):
        flags[name] = flags.get(name, False) or value
    progress = [
        {
            "name": item.name,
            "title": item.title or item.name,
            "total": item.total,
            "done": item.done,
            "message": item.message,
            "percent": item.percent,
        }
        for item in Progress.objects.filter(run__submission=submission).order_by("run_id", "id")
    ]
    now = timezone.now()
    all_finished = all(BlockState(block.state).is_finished for block in blocks)
    failed = any(block.state == BlockState.FAILED for block in blocks)
    cancelled = sum(block.state == BlockState.CANCELLED for block in blocks)
    wanted = submission.form.completion_flags
    finished = all_finished or (bool(wanted) and all(flags.get(name) for name in wanted))
    shown = [
        {
            "tree": block.run.tree.name,
            "label": block.label,
            "state": block.state,
            "attempts": block.attempts,
            "due_at": block.due_at.isoformat() if block.state == BlockState.PENDING else None,
            "scheduled": block.state == BlockState.PENDING and block.due_at > now,
            "name": block_name(block),
            "expected": expected_words(block.due_at, now) if block.state == BlockState.PENDING else "",
        }
        for block in blocks
    ]
    return {
        "status": "failed" if failed and all_finished else ("done" if finished else "running"),
        "finished": finished,
        "cancelled": ("all" if cancelled == len(blocks) else "some") if cancelled and all_finished else "",
        "blocks": shown,
        "rows": [block for block in shown if block["name"] or not BlockState(block["state"]).is_finished],
        "flags": flags,
        "progress": progress,
    }


def status_json(status: dict[str, Any]) -> dict[str, Any]:
    """`status` as the status JSON carries it (DESIGN §3.5), without what only the page shows."""
    return {
        **{key: value for key, value in status.items() if key not in PAGE_ONLY_KEYS},
        "blocks": [{key: value for key, value in block.items() if key not in PAGE_ONLY_BLOCK_KEYS}
                   for block in status["blocks"]],
        "progress": [{key: value for key, value in item.items() if key != "percent"}
                     for item in status["progress"]],
    }


def block_name(block: Block) -> str:
    """What the visitor's page calls a block: the label the builder gave its Background or
    Delay, or "" for none. Never what the editor calls an unlabelled one ("Background",
    "Delay (1 hour)"), nor the tree's own name for a tree run whole in the background."""
    if block.whole_tree:
        return ""
    for kind in kind_registry:
        if kind.runs_later and (
            block.label == kind.label or (block.label.startswith(f"{kind.label} (") and block.label.endswith(")"))
        ):
            return ""
    return block.label


def expected_words(due_at: datetime, now: datetime) -> str:
    """When a pending block is expected, as a visitor reads it: "in about 20 s", "in about 5
    minutes", "in about 3 hours", "on 3 March" (further than a day, in the project's time zone);
    "" once it is due."""
    seconds = (due_at - now).total_seconds()
    if seconds <= 0:
        return ""
    if seconds < 55:
        return f"in about {max(10, round(seconds / 10) * 10)} s"
    if seconds < 3570:
        minutes = max(1, round(seconds / 60))
        return f"in about {minutes} minute{'s' if minutes != 1 else ''}"
    if seconds < 86400:
        hours = round(seconds / 3600)
        return f"in about {hours} hour{'s' if hours != 1 else ''}"
    local = timezone.localtime(due_at)
    same_year = local.year == timezone.localtime(now).year
    return "on " + dateformat.format(local, "j F" if same_year else "j F Y")


def submission_etag(*, slug: str, token: str, variant: str) -> str:
    """The ETag of a post-submission response (`variant`: page, partial, json): it changes
    whenever anything the status shows changes, also when the time until a waiting block reads
    otherwise ("in about 5 minutes", then 4). No query while the cache holds the submission's
    stamp, one otherwise; Http404 for an unknown token."""
    found = submission_stamp(slug=slug, token=token)
    if found is None:
        raise Http404("No such submission.")
    stamp, form_changed, waiting = found
    now = timezone.now()
    expected = "|".join(expected_words(due_at, now) for due_at in waiting)
    digest = hashlib.sha256(f"{variant}:{stamp}:{form_changed.isoformat()}:{expected}".encode()).hexdigest()
    return f'"{digest[:32]}"'


def submission_message(*, form: Form, record: Record | None) -> str:
    """The form's post-submission message for `record`, as plain text (the page escapes it).
    Without a record (nothing ran, so no submission names one) the values it quotes are empty.

    A message that is not a valid template (it could be saved so) is logged and shown as typed:
    the post-submission page must not fail because of it.
    """
    try:
        # render_value gives a plain str, not a SafeString: |linebreaks escapes it.
        values = {**record.values, "id": record.pk} if record is not None else {}
        message = render_value(form.success_message, {"record": values})
    except Exception:  # a template error of any kind; the detail goes to the log only
        logger.exception("The post-submission message of form %s is not a valid template", form.slug)
        message = form.success_message
    return message
