"""A failure handled by an error port (DESIGN §3.4): what the failed action did is undone with
its savepoint, in the database and in what the walk keeps in memory."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.core import mail

from eventtree.actions.base import BaseAction
from eventtree.actions.registry import registry
from eventtree.engine.outbox import outbox_deliver
from eventtree.errors import ActionFailed
from eventtree.models import Flag, OutboxMessage, Record
from eventtree.services.records import record_submit
from tests.factories import action, form_create, tree_create

pytestmark = pytest.mark.django_db


class HalfDone(BaseAction):
    """Writes an email and a flag, then fails: as an action calling a service could."""

    key = "half_done"
    label = "Half done"
    config_form = forms.Form

    def run(self, context, config: dict[str, Any]) -> str:
        context.outbox_add(kind="send_email", node=context.node,
                           payload={"to": ["stale@example.com"], "subject": "STALE", "body": "", "html": None})
        context.flag_set("half")
        raise ActionFailed("half done")


@pytest.fixture
def half_done(monkeypatch):
    monkeypatch.setitem(registry._items, HalfDone.key, HalfDone())


@pytest.mark.parametrize("phase", ["sync", "background"])
def test_a_handled_failure_sends_only_the_error_ports_email_and_keeps_no_flag_of_it(
    phase, half_done, django_capture_on_commit_callbacks, drain_blocks
):
    form = form_create("f", fields=[{"name": "name"}])
    nodes = [action("half_done", children=[
        action("send_email", to="ops@example.com", subject="Handled {{ flags.half|yesno:'flag,no flag' }}",
               body="It failed.")])]
    tree_create(form, nodes if phase == "sync" else [{"kind": "background", "children": nodes}])

    with django_capture_on_commit_callbacks(execute=True):
        record_submit(form=form, values={"name": "a"})
    drain_blocks()
    for message in OutboxMessage.objects.filter(state="pending"):  # a request's email goes to a worker
        outbox_deliver(message.pk)

    assert [(m.to, m.subject) for m in mail.outbox] == [(["ops@example.com"], "Handled no flag")]
    assert not Flag.objects.filter(name="half").exists()
    assert Record.objects.count() == 1
