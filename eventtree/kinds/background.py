"""The background kind: a container whose children run in a worker after the commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventtree.kinds.base import BaseKind
from eventtree.models import NodeKind


class BackgroundKind(BaseKind):
    key = NodeKind.BACKGROUND
    label = "Background"
    icon = "⇢"
    description = "Runs its children in a worker, in order, after the submit has committed."
    runs_later = True

    def summary(self, config: dict[str, Any]) -> str:
        return "run the children in a worker, in order"

    def phase(self, config: dict[str, Any]) -> tuple[str, str]:
        return ("background", "in background")

    @staticmethod
    def due_at(config: dict[str, Any], values: dict[str, Any], now: datetime) -> tuple[datetime | None, str]:
        """A background block is due at once."""
        return now, ""
