from __future__ import annotations

from typing import Any

from django.db import transaction

from eventtree.engine.events import active_trees_forget
from eventtree.models import EventTree, Field, Form


def forget_active_trees(sender: type, instance: EventTree | Field, **kwargs: Any) -> None:
    """A tree or a field changed: forget the form's cached active trees (and their problems) once
    the change has committed. Forgetting earlier would let a request in between cache the old
    trees again, for as long as the cache keeps them.

    A field deleted along with its form needs nothing: the form's trees are deleted with it.
    """
    origin = kwargs.get("origin")
    origin_model = getattr(origin, "model", type(origin))
    if origin is not None and isinstance(instance, Field) and origin_model in (EventTree, Form):
        return
    form_id = instance.form_id
    transaction.on_commit(lambda: active_trees_forget(form_id), robust=True)


def ensure_sweeper(sender: Any, **kwargs: Any) -> None:
    from eventtree.engine.dispatch import sweeper_ensure

    sweeper_ensure()
