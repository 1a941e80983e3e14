"""Data migrations, run on rows made with the models as they were."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("eventtree", "0001_initial")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_blocks_without_a_node_run_the_whole_tree_only_when_they_are_an_async_runs_first_block():
    # Fails on the first version of 0002, which marked every block without a node whole_tree: a
    # waiting block whose node had been deleted would have run the whole tree.
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("eventtree")
    apps = migrate(BEFORE)
    Form, EventTree, Record, Run, Block = (apps.get_model("eventtree", name)
                                           for name in ("Form", "EventTree", "Record", "Run", "Block"))
    form = Form.objects.create(name="F", slug="f")
    record = Record.objects.create(form=form, values={})
    now = timezone.now()

    def block_of(tree, **kwargs):
        run = Run.objects.create(tree=tree, record=record, event="submitted")
        return Block.objects.create(run=run, label="b", due_at=now, **kwargs)

    async_tree = EventTree.objects.create(form=form, name="async", mode="async")
    sync_tree = EventTree.objects.create(form=form, name="sync", mode="sync")
    whole = block_of(async_tree, state="pending")
    nested_gone = Block.objects.create(run=whole.run, label="nested", due_at=now, state="pending")
    deleted_node = block_of(sync_tree, state="pending")

    apps = migrate([("eventtree", "0002_block_whole_tree")])
    Block = apps.get_model("eventtree", "Block")
    assert [pk for pk in Block.objects.filter(whole_tree=True).values_list("pk", flat=True)] == [whole.pk]

    # A database that ran the first version of 0002 is repaired by 0003.
    Block.objects.filter(node__isnull=True).update(whole_tree=True)
    apps = migrate(latest)
    Block = apps.get_model("eventtree", "Block")
    Run = apps.get_model("eventtree", "Run")

    assert Block.objects.get(pk=whole.pk).whole_tree
    for pk in (nested_gone.pk, deleted_node.pk):
        block = Block.objects.get(pk=pk)
        assert (block.whole_tree, block.state) == (False, "cancelled")
    assert Run.objects.get(pk=deleted_node.run_id).status == "done"
    assert Run.objects.get(pk=whole.run_id).status == "running"  # its whole-tree block still waits
