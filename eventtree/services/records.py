"""Writing records: a visitor's submit and a staff edit, each firing its event (DESIGN §3.1)."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from eventtree.engine.events import event_fire, runnable_trees, values_with_defaults
from eventtree.engine.poll_stamps import submission_stamp_forget
from eventtree.engine.walker import NodeFailure
from eventtree.models import Event, Form, Record, Submission
from eventtree.signals import record_event

logger = logging.getLogger(__name__)


class SubmissionRefused(Exception):
    """The synchronous phase failed and everything was rolled back; `message` is for the visitor."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def record_submit(
    *, form: Form, values: dict[str, Any], user: AbstractBaseUser | None = None
) -> tuple[Record, Submission | None]:
    """Save a visitor's submission and fire the form's `submitted` trees, in one transaction.

    Raises SubmissionRefused when a synchronous node fails: nothing is saved then.
    """
    record = Record(
        form=form,
        values=values_with_defaults(form.fields.all(), values),
        user=user if user is not None and user.is_authenticated else None,
    )
    trees = runnable_trees(form.pk, Event.SUBMITTED)
    if not trees:
        # Nothing to run: the record's one INSERT needs no transaction around it.
        record.save(force_insert=True)
        record_event.send(sender=Record, record=record, event=Event.SUBMITTED, runs=[])
        return record, None
    try:
        with transaction.atomic():
            record.save(force_insert=True)
            submission, runs = event_fire(record=record, event=Event.SUBMITTED, trees=trees)
            record_event.send(sender=Record, record=record, event=Event.SUBMITTED, runs=runs)
    except NodeFailure as failure:
        log_refusal(form, failure)
        raise SubmissionRefused(failure.public_message) from failure
    return record, submission


def record_update(
    *, record: Record, values: dict[str, Any]
) -> Submission | None:
    """Save changed values of a record and fire the form's `updated` trees, in one transaction.

    `values` holds only the fields to change: the others keep what is stored now, which a block
    may have written after the person opened the edit form.
    """
    try:
        with transaction.atomic():
            record = Record.objects.select_for_update().get(pk=record.pk)
            record.values = {**record.values, **values}
            record.save(update_fields=["values", "updated_at"])
            # The post-submission pages of the record quote its values.
            for token in record.submissions.values_list("token", flat=True):
                submission_stamp_forget(token)
            submission, runs = event_fire(record=record, event=Event.UPDATED)
            record_event.send(sender=Record, record=record, event=Event.UPDATED, runs=runs)
    except NodeFailure as failure:
        log_refusal(record.form, failure)
        raise SubmissionRefused(failure.public_message) from failure
    return submission


def log_refusal(form: Form, failure: NodeFailure) -> None:
    logger.warning(
        "Submit of form %s refused at node %s: %s",
        form.slug,
        failure.node.pk if failure.node else None,
        failure.detail,
    )
