"""Firing events when the shared cache (Redis in scale-out) is down: submits go on."""

from __future__ import annotations

import pytest

from eventtree.engine import events
from eventtree.models import Run
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
