from __future__ import annotations

import secrets
from datetime import datetime

from django.db import models
from django.utils import timezone

from eventtree.models.forms import Form, Record
from eventtree.models.trees import Event, EventTree, TreeVersion


def new_token() -> str:
    return secrets.token_urlsafe(24)


def due_now() -> datetime:
    """The due time of a block that is due at once: now, to the whole second below.

    Whether a block is due is decided by the database's clock (`due_at <= Now()`), which SQLite
    reads to the millisecond only: a due time with microseconds could still be ahead of it for a
    moment, and the block would then wait for a scheduled wake-up instead of running.
    """
    return timezone.now().replace(microsecond=0)


class Submission(models.Model):
    """One firing of a form event by a visitor that started at least one run.

    Its token is the only address of the post-submission page.
    """

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="submissions")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="submissions")
    event = models.CharField(max_length=16, choices=Event.choices, default=Event.SUBMITTED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Submission {self.pk} of {self.record}"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"  # some block is not finished yet
    DONE = "done", "Done"  # every block finished successfully
    FAILED = "failed", "Failed"  # every block finished and one failed

    @property
    def is_finished(self) -> bool:
        return self != RunStatus.RUNNING


class Run(models.Model):
    """One execution of one tree for one record."""

    tree = models.ForeignKey(EventTree, on_delete=models.CASCADE, related_name="runs")
    # The version whose nodes this run and all its blocks walk; None only for a test run.
    version = models.ForeignKey(
        TreeVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="runs")
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    event = models.CharField(max_length=16, choices=Event.choices)
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.RUNNING)
    # How many create_record actions led to this run: 0 for a visitor's submit. It travels into
    # the run's blocks and the runs they start, so that a loop of forms creating records in each
    # other stops at the chain limit (DESIGN §3.1) whichever phase it runs in.
    depth = models.PositiveSmallIntegerField(default=0)
    # The cron tick a scheduled run stands for (DESIGN §3.8); None for every other run. A tree
    # runs once per record and tick: a second insert of the same three is refused, which is how
    # a retried or doubled tick knows the record was handled.
    tick_at = models.DateTimeField(null=True, blank=True)
    # The run this one replays (services/runs.run_replay), for the runs pages; None otherwise.
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The runs pages (selectors_runs.py): newest first, of all trees or of one, by date.
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="run_newest"),
            models.Index(fields=["tree", "-created_at"], name="run_tree_newest"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tree", "tick_at", "record"], condition=models.Q(tick_at__isnull=False),
                                    name="run_once_per_record_and_tick"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.tree.name}"


class BlockState(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its due time or for a worker
    RUNNING = "running", "Running"  # claimed by a worker, whose lease runs until lease_until
    DONE = "done", "Done"  # its children ran and committed
    FAILED = "failed", "Failed"  # every attempt failed
    CANCELLED = "cancelled", "Cancelled"  # cancelled by staff; its children never run

    @property
    def is_finished(self) -> bool:
        return self in (BlockState.DONE, BlockState.FAILED, BlockState.CANCELLED)

    @classmethod
    def finished(cls) -> list[BlockState]:
        return [cls.DONE, cls.FAILED, cls.CANCELLED]


class WokenBy(models.TextChoices):
    COMMIT = "commit", "On commit"  # sent when the transaction that made it due committed
    TIMER = "timer", "Timer"  # sent by the timer loop at its due time (engine/timers.py)
    SWEEPER = "sweeper", "Sweeper"  # re-sent by the sweeper: its wake-up was lost or its worker died


class Block(models.Model):
    """The unit of asynchronous work: one Background or Delay node's children.

    A `whole_tree` block is a tree run in async mode and has no node. Its node is one of the
    run's version, which never changes: editing or deleting the draft's node changes nothing
    here. This table, not the broker, decides whether the work runs.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="blocks")
    # The id of its node in the run's version (the draft node it was published from).
    node_key = models.PositiveBigIntegerField(null=True, blank=True)
    whole_tree = models.BooleanField(default=False)
    label = models.CharField(max_length=200)
    state = models.CharField(max_length=12, choices=BlockState.choices, default=BlockState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    due_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    # When the wake-up of a pending block was handed to the broker, None while it waits for one
    # (the claim uses it up); the sweeper re-sends one only when it can be presumed lost.
    woken_at = models.DateTimeField(null=True, blank=True)
    # Who sent the last wake-up (blank: none yet): for a block that ran, what woke it.
    woken_by = models.CharField(max_length=8, choices=WokenBy.choices, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "id"]
        # The timers' look-up: pending blocks without a wake-up, by due time (engine/timers.py).
        indexes = [models.Index(fields=["state", "woken_at", "due_at"], name="block_wake_due")]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_state_display()})"

    @property
    def flag_name(self) -> str:
        return self.flag_name_for(tree_id=self.run.tree_id, node_key=None if self.whole_tree else self.node_key)

    @staticmethod
    def flag_name_for(*, tree_id: int, node_key: int | None) -> str:
        """The flag a finished block sets: `block:<node id>`, or for a whole async tree
        `block:tree-<tree id>`."""
        return f"block:{node_key}" if node_key is not None else f"block:tree-{tree_id}"


class Phase(models.TextChoices):
    SYNC = "sync", "Before redirect"  # in the request's transaction
    BACKGROUND = "background", "In background"  # in a worker, inside a block


class StepStatus(models.TextChoices):
    OK = "ok", "OK"  # the node ran
    SKIPPED = "skipped", "Skipped"  # a condition that did not hold
    FAILED = "failed", "Failed"  # the node failed (handled by its error port or not)
    DEFERRED = "deferred", "Deferred"  # a Background or Delay that created a block


class Step(models.Model):
    """The record of one node's execution inside a run, per attempt."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    block = models.ForeignKey(
        Block, null=True, blank=True, on_delete=models.CASCADE, related_name="steps"
    )
    # The id of its node in the run's version, as on Block.
    node_key = models.PositiveBigIntegerField(null=True, blank=True)
    label = models.CharField(max_length=200)
    phase = models.CharField(max_length=12, choices=Phase.choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=StepStatus.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    error = models.TextField(blank=True)
    output = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "started_at", "id"]
        # A node's last outcomes in the editor (selectors_runs.node_outcomes): its newest steps.
        indexes = [models.Index(fields=["node_key", "-id"], name="step_node_newest")]

    def __str__(self) -> str:
        return f"{self.label}: {self.status}"


class Flag(models.Model):
    """A named boolean on a run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="flags")
    name = models.CharField(max_length=200)
    value = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "name"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="flag_unique_per_run")]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class Progress(models.Model):
    """A named progress item on a run, shown as a bar."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="progress_items")
    name = models.CharField(max_length=200)
    title = models.CharField(max_length=200, blank=True)
    total = models.PositiveIntegerField(default=100)
    done = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run", "id"]
        verbose_name_plural = "progress items"
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="progress_unique_per_run")
        ]

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0


class OutboxState(models.TextChoices):
    PENDING = "pending", "Pending"  # written in the block's transaction, not yet delivered
    SENDING = "sending", "Sending"  # claimed by one process for delivery
    SENT = "sent", "Sent"  # delivered
    FAILED = "failed", "Failed"  # delivery raised; not repeated, to keep it at most once


class OutboxMessage(models.Model):
    """A side effect outside the database, delivered after the transaction that wrote it commits.

    `key` makes it at most once per step and attempt.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="outbox")
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32)
    payload = models.JSONField()
    state = models.CharField(max_length=8, choices=OutboxState.choices, default=OutboxState.PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "created_at"])]
