"""What running a block costs, in statements (DESIGN §3.3): bounded, and not growing with the
number of actions that set values."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from eventtree.engine.blocks import block_run
from eventtree.models import Block, BlockState, Record
from eventtree.services.records import record_submit
from tests.factories import form_create, set_field, tree_create

pytestmark = pytest.mark.django_db


def block_statements(actions: int, capture) -> list[str]:
    form = form_create(f"f{actions}", fields=[{"name": "name"}, *({"name": f"v{i}"} for i in range(actions))])
    tree_create(form, [{"kind": "background", "children": [set_field(f"v{i}", "x") for i in range(actions)]}])
    with capture(execute=True):
        record_submit(form=form, values={"name": "warm-up"})
        record_submit(form=form, values={"name": "measured"})
    first, second = Block.objects.filter(run__record__form=form).order_by("id")
    with capture(execute=True):
        assert block_run(first.pk) == BlockState.DONE  # fills the caches a worker keeps
    with CaptureQueriesContext(connection) as queries, capture(execute=True):
        assert block_run(second.pk) == BlockState.DONE
    assert Record.objects.get(form=form, values__name="measured").values[f"v{actions - 1}"] == "x"
    return [query["sql"] for query in queries.captured_queries
            if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]


def test_a_block_that_sets_values_costs_8_statements_whatever_its_number_of_actions(django_capture_on_commit_callbacks):
    counts = {}
    for actions in (1, 6):
        statements = block_statements(actions, django_capture_on_commit_callbacks)
        assert sum(sql.startswith('UPDATE "eventtree_record"') for sql in statements) == 1
        assert not any(table in sql for sql in statements
                       for table in ('FROM "eventtree_field"', 'FROM "eventtree_form"', 'FROM "eventtree_treeversion"'))
        counts[actions] = len(statements)

    # Claim and read the block, lock the record, write it once, the steps, the block's end, its
    # flag, and the run's end (one conditional UPDATE; on PostgreSQL the run's row is locked
    # first: 9 there).
    assert counts == {1: 8, 6: 8}
