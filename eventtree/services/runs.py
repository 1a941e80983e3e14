"""Staff operations on runs (DESIGN §3.9): cancel and retry a block, replay a run."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from eventtree.engine import dispatch
from eventtree.engine.events import ActiveTree, tree_run_start
from eventtree.engine.form_cache import form_cached
from eventtree.engine.outbox import outbox_calls_forget_failed
from eventtree.engine.poll_stamps import run_changed, submission_stamp_forget
from eventtree.engine.runs import run_settle
from eventtree.engine.trees import tree_problems
from eventtree.engine.versions import version_nodes
from eventtree.engine.walker import NodeFailure
from eventtree.models import Block, BlockState, Phase, Record, Run, RunStatus, due_now

logger = logging.getLogger(__name__)


class BlockStateError(Exception):
    pass


class RunReplayRefused(Exception):
    """The replay did not start and nothing was written; the message says why, for staff."""


def block_cancel(*, block_id: int) -> Block:
    """Cancel a pending block (due now or later); its children never run."""
    with transaction.atomic():
        now = timezone.now()
        changed = Block.objects.filter(pk=block_id, state=BlockState.PENDING).update(
            state=BlockState.CANCELLED, finished_at=now, updated_at=now
        )
        block = Block.objects.select_related("run__submission").get(pk=block_id)
        if not changed:
            raise BlockStateError(f"Only a pending block can be cancelled; this one is {block.state}.")
        run_settle(block.run_id)
        run_changed(block.run)
    return block


def block_retry(*, block_id: int) -> Block:
    """Give a failed block one more attempt, now. Its failed external calls (http_request) are
    made again; those that were sent are not."""
    with transaction.atomic():
        block = Block.objects.select_for_update(of=("self",)).select_related("run__submission").get(pk=block_id)
        if block.state != BlockState.FAILED:
            raise BlockStateError(f"Only a failed block can be retried; this one is {block.state}.")
        block.state = BlockState.PENDING
        block.due_at = due_now()
        block.finished_at = None
        block.max_attempts = block.attempts + 1
        block.save(update_fields=["state", "due_at", "finished_at", "max_attempts", "updated_at"])
        outbox_calls_forget_failed(block_id=block.pk, run_id=block.run_id)
        Run.objects.filter(pk=block.run_id).update(status=RunStatus.RUNNING, finished_at=None)
        run_changed(block.run)
        dispatch.blocks_enqueue([block])
    return block


def run_replay(*, run_id: int, user: AbstractBaseUser) -> Run:
    """Run a finished run again on its record as it is now (DESIGN §3.9): a new run of the same
    tree, of the run's own version (not the tree's live one) and for the same event, started as a
    submit starts one: its synchronous phase in one transaction here, its blocks handed to the
    workers when that commits. It belongs to no submission (no visitor waits on it).

    Raises RunReplayRefused, having written nothing, for a run not finished yet, a test run (no
    version), a version that no longer validates against the form's fields, or a synchronous phase
    that fails (the record is left as it was; the detail goes to the log).
    """
    run = Run.objects.select_related("tree").get(pk=run_id)
    if not RunStatus(run.status).is_finished:
        raise RunReplayRefused("Only a finished run can be replayed; this one is still running.")
    if run.version_id is None:
        raise RunReplayRefused("This run has no version to replay.")
    form = form_cached(form_id=run.tree.form_id)
    nodes = version_nodes(run.version_id)
    problems = tree_problems(nodes, {field.name: field.type for field in form.fields.all()})
    if problems:
        raise RunReplayRefused(f"Its version no longer runs on this form: {'; '.join(problems)}")
    tree = ActiveTree(id=run.tree_id, name=run.tree.name, mode=run.tree.mode, max_attempts=run.tree.max_attempts,
                      version_id=run.version_id)
    try:
        with transaction.atomic():
            record = Record.objects.select_for_update().get(pk=run.record_id)
            record.form = form
            replay = tree_run_start(tree, record=record, event=run.event, submission=None, phase=Phase.SYNC,
                                    depth=run.depth, replay_of_id=run.pk)
            # The post-submission pages of the record quote its values, which the replay may set.
            for token in record.submissions.values_list("token", flat=True):
                submission_stamp_forget(token)
    except NodeFailure as failure:
        logger.warning("Replay of run %s by %s refused at node %s: %s", run.pk, user,
                       failure.node.pk if failure.node else None, failure.detail)
        raise RunReplayRefused(f"The replay was refused and nothing was saved: {failure.public_message}") from failure
    logger.info("Run %s replayed as run %s by %s", run.pk, replay.pk, user)
    return replay
