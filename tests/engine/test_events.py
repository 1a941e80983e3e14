"""Firing events: the cached look-up of active trees, and a cache (Redis in scale-out) that is down."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import transaction

from eventtree.engine import caching, events
from eventtree.models import Event, EventTree, Field, Form, Node, Run
from eventtree.services.records import record_submit
from tests.factories import action, form_create, set_field, tree_create, tree_publish_unchecked

pytestmark = pytest.mark.django_db


class DownCache:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("cache server unreachable")

        return fail


def test_a_cache_outage_is_a_cache_miss(monkeypatch, caplog, django_capture_on_commit_callbacks):
    form = form_create("f")
    monkeypatch.setattr(caching, "cache", DownCache())  # every cache the engine reads through
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
                      [events.ActiveTree(tree.pk, tree.name, tree.mode, tree.max_attempts, tree.published_id)])

    assert events.active_trees(form.pk, Event.SUBMITTED) == []


def test_a_submit_with_warm_caches_validates_no_node_and_a_change_is_seen_at_the_next_submit(
    monkeypatch, django_capture_on_commit_callbacks
):
    form = form_create("f", fields=[{"name": "name"}, {"name": "out", "internal": True}])
    tree = tree_create(form, [action("log", message="x") for _ in range(5)] + [set_field("out", "ran")])
    record_submit(form=form, values={"name": "a"})  # fills the cache
    checked = []
    monkeypatch.setattr(events, "tree_problems", lambda *args: checked.append(args) or [])

    record, _ = record_submit(form=form, values={"name": "b"})

    assert checked == [] and record.values["out"] == "ran"
    monkeypatch.undo()
    node = Node.objects.get(tree=tree, config__field="out")
    with django_capture_on_commit_callbacks(execute=True):  # a version sets a field the form lacks
        node.config = {"field": "renamed", "value": "ran"}
        node.save()
        tree_publish_unchecked(tree)
    record, _ = record_submit(form=form, values={"name": "c"})
    assert "out" not in record.values  # the version no longer validates: it did not run
    with django_capture_on_commit_callbacks(execute=True):  # the field gets that name
        Field.objects.filter(form=form, name="out").update(name="renamed")
        Field.objects.get(form=form, name="renamed").save()
    record, _ = record_submit(form=form, values={"name": "d"})
    assert record.values["renamed"] == "ran"


def test_deleting_a_form_looks_up_no_form_per_node(django_assert_max_num_queries, django_capture_on_commit_callbacks):
    form = form_create("f", fields=[{"name": "name"}])
    tree_create(form, [action("log", message="x") for _ in range(40)])
    with django_assert_max_num_queries(25):
        with django_capture_on_commit_callbacks(execute=True):
            Form.objects.get(pk=form.pk).delete()
