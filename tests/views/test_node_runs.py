"""A node's last outcomes, from the editor (eventtree/views/builder/runs.py `node_runs`)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from eventtree.models import Node, Run
from tests.factories import action, form_create, set_field, tree_create
from tests.views.staff import staff_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def checks(django_capture_on_commit_callbacks, drain_blocks):
    """Two runs of a Background that logs the record's name then fails on 'bad'; the log node."""
    from eventtree.services.records import record_submit

    form = form_create("checks", fields=[{"name": "name"}])
    tree = tree_create(form, [{"kind": "background", "label": "Work", "children": [
        action("log", message="checked {{ record.name }}"),
        {"kind": "condition", "field": "name", "op": "eq", "value": "<b>bad</b>",
         "children": [action("fail", message="refused {{ record.name }}")]},
    ]}], max_attempts=1)
    for name in ("good", "<b>bad</b>"):
        with django_capture_on_commit_callbacks(execute=True):
            record_submit(form=form, values={"name": name})
    drain_blocks()
    return tree


def test_a_node_shows_what_it_did_in_its_last_runs_newest_first(client, checks):
    client.force_login(staff_create("viewer", "eventtree.view_run"))
    log = Node.objects.get(tree=checks, action="log")
    fail = Node.objects.get(tree=checks, action="fail")
    good, bad = Run.objects.order_by("pk")

    html = client.get(f"/builder/nodes/{log.pk}/runs/").content.decode()
    assert html.index(f"#{bad.pk}") < html.index(f"#{good.pk}")
    assert "checked good" in html and "checked &lt;b&gt;bad&lt;/b&gt;" in html and "<b>bad" not in html

    partial = client.get(f"/builder/nodes/{fail.pk}/runs/", **HTMX).content.decode()
    assert "<html" not in partial
    assert f"#{bad.pk}" in partial and f"#{good.pk}" not in partial  # it ran once, and failed
    assert "refused &lt;b&gt;bad&lt;/b&gt;" in partial


def test_its_outcomes_are_one_query_and_need_the_view_run_permission(client, checks):
    log = Node.objects.get(tree=checks, action="log")
    client.force_login(staff_create("staff"))  # staff, without view_run
    assert client.get(f"/builder/nodes/{log.pk}/runs/").status_code == 403

    client.force_login(staff_create("viewer", "eventtree.view_run"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/builder/nodes/{log.pk}/runs/", **HTMX).status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if "eventtree_" in q["sql"]]
    assert len(reads) == 2, reads  # the node with its tree and form; its steps with their runs


def test_a_node_that_never_ran_says_so(client):
    form = form_create("quiet", fields=[{"name": "name"}])
    tree = tree_create(form, [set_field("name", "x")])
    client.force_login(staff_create("viewer", "eventtree.view_run"))
    node = Node.objects.get(tree=tree)
    assert "has not run yet" in client.get(f"/builder/nodes/{node.pk}/runs/").content.decode()
