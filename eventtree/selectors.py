"""Reads for views."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone

from eventtree.models import Block, BlockState, Field, Flag, Form, Progress, Submission


def form_get(*, slug: str) -> Form:
    return get_object_or_404(Form, slug=slug)


def form_public_fields(*, form: Form) -> list[Field]:
    return [field for field in form.fields.all() if not field.internal]


def submission_get(*, slug: str, token: str) -> Submission:
    return get_object_or_404(
        Submission.objects.select_related("form", "record"), token=token, form__slug=slug
    )


def submission_status(*, submission: Submission) -> dict[str, Any]:
    """The state of every run of a submission, as the status JSON (DESIGN §3.5) carries it.

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
    wanted = submission.form.completion_flags
    finished = all_finished or (bool(wanted) and all(flags.get(name) for name in wanted))
    return {
        "status": "failed" if failed and all_finished else ("done" if finished else "running"),
        "finished": finished,
        "blocks": [
            {
                "tree": block.run.tree.name,
                "label": block.label,
                "state": block.state,
                "attempts": block.attempts,
                "due_at": block.due_at.isoformat() if block.state == BlockState.PENDING else None,
                "scheduled": block.state == BlockState.PENDING and block.due_at > now,
            }
            for block in blocks
        ],
        "flags": flags,
        "progress": progress,
    }


def status_etag(status: dict[str, Any], variant: str) -> str:
    digest = hashlib.sha256(json.dumps([variant, status], sort_keys=True).encode()).hexdigest()
    return f'"{digest[:32]}"'
