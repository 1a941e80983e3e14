from __future__ import annotations

from typing import Any

from django.db import transaction

from eventtree.engine import dispatch
from eventtree.engine.events import active_trees_forget
from eventtree.engine.form_cache import form_forget
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


def sync_tree_schedule(sender: type, instance: EventTree, **kwargs: Any) -> None:
    """A tree was saved or deleted: once that commits, its django-q2 cron schedule follows it
    (made on publish, changed with its cron, removed when it is deactivated, deleted or no longer
    scheduled). A signal, not each service, so that the admin, a package import and a form's
    deletion (which deletes its trees) keep the schedules in step too."""
    tree_id = instance.pk
    transaction.on_commit(lambda: dispatch.tree_schedule_sync(tree_id), robust=True)


def remember_old_slug(sender: type, instance: Form, **kwargs: Any) -> None:
    """Before a form is saved: note the slug it had, whose cached entry must go too."""
    if instance.pk:
        instance._slug_before = Form.objects.filter(pk=instance.pk).values_list("slug", flat=True).first()


def forget_form(sender: type, instance: Form | Field, **kwargs: Any) -> None:
    """A form or one of its fields changed: forget the cached form (by id and by slug, the old
    slug too) once the change has committed. A field deleted with its form needs nothing more."""
    origin = kwargs.get("origin")
    if isinstance(instance, Field) and isinstance(origin, Form):
        return
    form_id = instance.pk if isinstance(instance, Form) else instance.form_id
    if isinstance(instance, Form):
        slugs = {instance.slug, getattr(instance, "_slug_before", None) or instance.slug}
    else:
        slugs = set(Form.objects.filter(pk=form_id).values_list("slug", flat=True))
    transaction.on_commit(lambda: form_forget(form_id=form_id, slugs=slugs), robust=True)


def ensure_schedules(sender: Any, **kwargs: Any) -> None:
    """After a migration: the sweeper's schedule, and one for each scheduled tree (none left for
    trees that are not)."""
    dispatch.sweeper_ensure()
    dispatch.tree_schedules_sync()
