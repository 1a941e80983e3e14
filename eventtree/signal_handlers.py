from __future__ import annotations

from typing import Any

from django.db import transaction

from eventtree.engine.events import active_trees_forget
from eventtree.models import EventTree


def forget_active_trees(sender: type[EventTree], instance: EventTree, **kwargs: Any) -> None:
    """A tree changed: forget its form's cached active trees once the change has committed.
    Forgetting earlier would let a request in between cache the old trees again, for as long as
    the cache keeps them."""
    form_id = instance.form_id
    transaction.on_commit(lambda: active_trees_forget(form_id), robust=True)


def ensure_sweeper(sender: Any, **kwargs: Any) -> None:
    from eventtree.engine.dispatch import sweeper_ensure

    sweeper_ensure()
