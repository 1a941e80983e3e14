from __future__ import annotations

from django.conf import settings
from django.db import models

from eventtree.models.forms import Form


class Event(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"  # a new record from the public form
    UPDATED = "updated", "Updated"  # an existing record saved through its edit form
    IMPORTED = "imported", "Imported"  # a record created by a bulk import
    SCHEDULED = "scheduled", "Scheduled"  # a cron tick


class RunMode(models.TextChoices):
    SYNC = "sync", "Sync: actions before the redirect"  # walk the root in the request
    ASYNC = "async", "Async: all in the background"  # the whole tree is one block


class EventTree(models.Model):
    """An ordered tree of nodes fired by one event of one form."""

    form = models.ForeignKey(Form, on_delete=models.CASCADE, related_name="trees")
    name = models.CharField(max_length=200)
    event = models.CharField(max_length=16, choices=Event.choices, default=Event.SUBMITTED)
    mode = models.CharField(max_length=8, choices=RunMode.choices, default=RunMode.SYNC)
    active = models.BooleanField(default=True)
    max_attempts = models.PositiveSmallIntegerField(
        default=3, help_text="Attempts of a background block before it is marked failed."
    )
    cron = models.CharField(max_length=100, blank=True)
    filter = models.JSONField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    # The version new runs use; None until the tree is first published, and such a tree does
    # not run. The nodes below are the draft the editor changes.
    published = models.ForeignKey(
        "TreeVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["form", "position", "id"]
        indexes = [models.Index(fields=["form", "event", "active"])]
        permissions = [("publish_eventtree", "Can publish a tree's draft, or an older version again")]

    def __str__(self) -> str:
        return f"{self.form.name}: {self.name}"


class TreeVersion(models.Model):
    """An immutable, numbered snapshot of a tree's nodes, made by Publish (DESIGN §3.10).

    `nodes` holds the root nodes as written by `eventtree.engine.versions.version_snapshot`:
    each node keeps the id of the draft node it was taken from, so that the blocks and steps of
    a run name their node whatever the draft became. Nothing updates a version once created.
    """

    tree = models.ForeignKey(EventTree, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    nodes = models.JSONField(default=list)
    note = models.CharField(max_length=200, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tree", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["tree", "number"], name="version_number_unique_per_tree")
        ]

    def __str__(self) -> str:
        return f"Version {self.number}"


class NodeKind(models.TextChoices):
    ACTION = "action", "Action"  # a leaf that does one thing; its children are its error port
    BACKGROUND = "background", "Background"  # children run in a worker after the commit
    DELAY = "delay", "Delay"  # children run in a worker once the delay has passed
    CONDITION = "condition", "Condition"  # children run only if the test holds


class Node(models.Model):
    """One element of a tree.

    `config` holds what the kind needs: an action's config (`action` names its type), a delay's
    `seconds` or `field` + `offset_seconds`, a condition's `field`, `op` and `value`.
    """

    tree = models.ForeignKey(EventTree, on_delete=models.CASCADE, related_name="nodes")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=NodeKind.choices)
    action = models.CharField(max_length=64, blank=True)
    label = models.CharField(max_length=200, blank=True)
    config = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["tree", "parent_id", "position", "id"]
        indexes = [models.Index(fields=["tree", "parent", "position"])]

    def __str__(self) -> str:
        # The kind's own wording is `eventtree.kinds.node_label`: models import no kind.
        return self.label or f"{self.get_kind_display()} {self.pk}"
