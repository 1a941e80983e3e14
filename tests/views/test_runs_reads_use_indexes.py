"""The runs pages and a node's outcomes read through an index, whatever the number of runs: the
list newest first (of every tree, of one, by date) and a node's last steps never sort or scan
every row. Checked on SQLite's query plans of the statements the pages send."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from eventtree.models import Node
from eventtree.services.records import record_submit
from tests.factories import action, form_create, tree_create
from tests.views.staff import staff_create

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plans"),
]

HTMX = {"HTTP_HX_REQUEST": "true"}


def plans(client, url: str, table: str, **headers: str) -> list[str]:
    """The query plan of each statement `url` sends that reads from `table`, as one text each."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, **headers).status_code == 200
    found = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            sql = query["sql"]
            if sql.startswith("SELECT") and f'FROM "{table}"' in sql:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
                found.append(" / ".join(row[-1] for row in cursor.fetchall()))
    assert found, f"{url} read nothing from {table}"
    return found


@pytest.fixture
def logged(client, django_capture_on_commit_callbacks):
    form = form_create("logged", fields=[{"name": "name"}])
    tree = tree_create(form, [action("log", message="hello {{ record.name }}")])
    for name in ("a", "b", "c"):
        with django_capture_on_commit_callbacks(execute=True):
            record_submit(form=form, values={"name": name})
    client.force_login(staff_create("viewer", "eventtree.view_run"))
    return client, tree


def test_the_runs_list_reads_newest_first_through_an_index(logged):
    client, tree = logged
    today = timezone.localdate()
    for url, index in [("/builder/runs/", "run_newest"),
                       (f"/builder/runs/?date_from={today}", "run_newest"),
                       (f"/builder/runs/?tree={tree.pk}", "run_tree_newest")]:
        read = plans(client, url, "eventtree_run")
        assert any(index in plan for plan in read), (url, read)
        assert not any("TEMP B-TREE FOR ORDER BY" in plan for plan in read), (url, read)


def test_a_nodes_outcomes_read_its_newest_steps_through_an_index(logged):
    client, tree = logged
    node = Node.objects.get(tree=tree)
    (plan,) = plans(client, f"/builder/nodes/{node.pk}/runs/", "eventtree_step", **HTMX)
    assert "step_node_newest" in plan and "TEMP B-TREE" not in plan, plan
