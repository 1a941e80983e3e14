"""Firing events: the cached look-up of active trees, and a cache (Redis in scale-out) that is down."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import transaction

from eventtree.engine import events
from eventtree.models import Event, EventTree, Run
from eventtree.services.records import record_submit
from tests.factories import action, form_create, tree_create

pytestmark = pytest.mark.django_db


class DownCache:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("cache server unreachable")

        return fail


def test_a_cache_outage_is_a_cache_miss(monkeypatch, caplog, django_capture_on_commit_callbacks):
    form = form_create("f")
    monkeypatch.setattr(events, "cache", DownCache())
    tree = tree_create(form, [action("log", message="still runs")])  # forgetting fails: logged

    with django_capture_on_commit_callbacks(execute=True):
        _, submission = record_submit(form=form, values={"name": "x"})

    assert submission is not None and Run.objects.get().tree == tree
    assert "Cache unavailable" in caplog.text


def test_the_active_trees_are_forgotten_when_a_tree_change_commits_not_before(django_capture_on_commit_callbacks):
    # Fails on the code that forgot them inside the transaction: a request reading between the
    # save and the commit cached the old trees again, for up to five minutes.
    form = form_create("f")
    tree = tree_create(form, [action("log", message="old")])
    assert [t.id for t in events.active_trees(form.pk, Event.SUBMITTED)] == [tree.pk]

    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            EventTree.objects.filter(pk=tree.pk).update(active=False)
            tree.active = False
            tree.save()
            # Another request, before this transaction commits, still sees the tree active and
            # caches it.
            cache.set(events.active_trees_cache_key(form.pk, Event.SUBMITTED),
                      [events.ActiveTree(tree.pk, tree.name, tree.mode, tree.max_attempts)])

    assert events.active_trees(form.pk, Event.SUBMITTED) == []
