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


def test_existing_trees_are_published_as_version_1_and_their_waiting_blocks_still_run(django_capture_on_commit_callbacks):
    from eventtree.engine.blocks import block_run
    from eventtree.models import Block as CurrentBlock, Record as CurrentRecord

    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("eventtree")
    apps = migrate([("eventtree", "0003_run_depth_block_woken_at")])
    Form, Field, EventTree, Node, Record, Run, Block, Step = (
        apps.get_model("eventtree", name)
        for name in ("Form", "Field", "EventTree", "Node", "Record", "Run", "Block", "Step"))
    form = Form.objects.create(name="F", slug="f")
    Field.objects.create(form=form, name="out", position=0)
    tree = EventTree.objects.create(form=form, name="On submit")
    background = Node.objects.create(tree=tree, kind="background", position=0, label="Later")
    Node.objects.create(tree=tree, parent=background, kind="action", action="set_field", position=0,
                        config={"field": "out", "value": "ran"})
    record = Record.objects.create(form=form, values={})
    run = Run.objects.create(tree=tree, record=record, event="submitted")
    block = Block.objects.create(run=run, node=background, label="Later", due_at=timezone.now(), state="pending")
    Step.objects.create(run=run, node=background, label="Later", phase="sync", status="deferred",
                        started_at=timezone.now(), finished_at=timezone.now())

    apps = migrate(latest)
    EventTree, Run, Block, Step = (apps.get_model("eventtree", name) for name in ("EventTree", "Run", "Block", "Step"))
    version = EventTree.objects.get(pk=tree.pk).published
    assert version.number == 1
    assert [(item["id"], item["kind"], [child["config"] for child in item["children"]]) for item in version.nodes] == [
        (background.pk, "background", [{"field": "out", "value": "ran"}])]
    assert Run.objects.get(pk=run.pk).version_id == version.pk
    assert Block.objects.get(pk=block.pk).node_key == Step.objects.get().node_key == background.pk

    with django_capture_on_commit_callbacks(execute=True):
        assert block_run(block.pk) == "done"
    assert CurrentBlock.objects.get(pk=block.pk).state == "done"
    assert CurrentRecord.objects.get(pk=record.pk).values == {"out": "ran"}
