from __future__ import annotations

from typing import Any

from eventtree.engine.events import active_trees_forget
from eventtree.models import EventTree


def forget_active_trees(sender: type[EventTree], instance: EventTree, **kwargs: Any) -> None:
    active_trees_forget(instance.form_id)


def ensure_sweeper(sender: Any, **kwargs: Any) -> None:
    from eventtree.engine.dispatch import sweeper_ensure

    sweeper_ensure()
