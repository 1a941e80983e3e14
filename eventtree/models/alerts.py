from __future__ import annotations

from django.db import models

from eventtree.models.trees import EventTree


class AlertWindow(models.Model):
    """When a tree may next send a failure alert, and what waits for it (engine/alerts.py).

    The first failure of a tree is mailed at once and opens the window; the failures until
    `closes_at` are gathered and mailed together when it closes, which opens the next window.
    """

    tree = models.OneToOneField(EventTree, primary_key=True, on_delete=models.CASCADE, related_name="+")
    closes_at = models.DateTimeField()
    # The ids of the blocks that failed for good while the window was open, not mailed yet.
    gathered = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"Alerts of tree {self.tree_id} until {self.closes_at:%Y-%m-%d %H:%M}"
