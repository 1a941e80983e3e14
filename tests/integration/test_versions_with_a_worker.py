"""Versions with a real `qcluster` (DESIGN §3.10): a run keeps the version it started on."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from eventtree.models import Node, Record, Run
from eventtree.services.trees import node_add, node_delete, node_update
from eventtree.services.versions import tree_publish
from tests.factories import form_create, set_field, tree_create
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_run_waiting_on_a_delay_finishes_on_its_version_after_the_next_one_is_published(qcluster):
    form = form_create("membership", fields=[{"name": "name"}, {"name": "out", "internal": True}])
    tree = tree_create(form, [{"kind": "delay", "seconds": 2, "label": "Two seconds later",
                               "children": [set_field("out", "version 1 ran")]}])
    visitor = Client()
    first = visitor.post("/f/membership/", {"name": "first"})["Location"]

    # While its Delay waits, the builder deletes the Delay from the draft, adds a Background
    # instead and publishes version 2.
    builder = get_user_model().objects.create_superuser("builder", password="pw")
    node_delete(node=Node.objects.get(tree=tree, kind="delay"))
    background = node_add(tree=tree, kind="background")
    node_update(node=node_add(tree=tree, kind="action", action="set_field", parent_id=background.pk),
                label="", config={"field": "out", "value": "version 2 ran"})
    assert tree_publish(tree=tree, user=builder).number == 2
    second = visitor.post("/f/membership/", {"name": "second"})["Location"]

    for url in (first, second):
        wait_until(lambda url=url: visitor.get(url + "status.json").json()["finished"], timeout=90,
                   describe=lambda: qcluster.output()[-3000:])
    values = {record.values["name"]: record.values["out"] for record in Record.objects.all()}
    assert values == {"first": "version 1 ran", "second": "version 2 ran"}
    assert {run.record.values["name"]: (run.version.number, run.status) for run in Run.objects.all()} == {
        "first": (1, "done"), "second": (2, "done")}
    staff = Client()
    staff.force_login(builder)
    for record in Record.objects.all():
        page = staff.get(f"/builder/records/{record.pk}/").content.decode()
        assert f"version {1 if record.values['name'] == 'first' else 2}</a>" in page
