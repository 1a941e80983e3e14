from __future__ import annotations

from typing import Any

from django.db import transaction

from eventtree.engine.events import active_trees_forget
from eventtree.models import EventTree, Field, Form, Node


def forget_active_trees(sender: type, instance: EventTree | Node | Field, **kwargs: Any) -> None:
    """A tree, a node or a field changed: forget the form's cached active trees (and their
    problems) once the change has committed. Forgetting earlier would let a request in between
    cache the old trees again, for as long as the cache keeps them.

    A node or field deleted along with its tree or form needs nothing: the tree's own deletion
    forgets (and looking up each node's form would cost a query per node).
    """
    origin = kwargs.get("origin")
    origin_model = getattr(origin, "model", type(origin))
    if origin is not None and not isinstance(instance, EventTree) and origin_model in (EventTree, Form):
        return
    form_id = instance.tree.form_id if isinstance(instance, Node) else instance.form_id
    transaction.on_commit(lambda: active_trees_forget(form_id), robust=True)


def ensure_sweeper(sender: Any, **kwargs: Any) -> None:
    from eventtree.engine.dispatch import sweeper_ensure

    sweeper_ensure()
