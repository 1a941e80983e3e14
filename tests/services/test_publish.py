"""Drafts and published versions (DESIGN §3.10), through the builder's services and a submit."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from eventtree.models import Block, BlockState, EventTree, Node, Record, Run, TreeVersion
from eventtree.services.records import record_submit
from eventtree.services.trees import node_add, node_delete, node_update
from eventtree.services.versions import PublishRefused, draft_discard, tree_publish, version_republish
from tests.factories import action, form_create, set_field, tree_create

pytestmark = pytest.mark.django_db

FIELDS = [{"name": "name"}, {"name": "status", "type": "choice", "choices": ["Open", "Won", "Lost"]},
          {"name": "out", "internal": True}]


@pytest.fixture
def builder():
    return get_user_model().objects.create_user("builder", is_staff=True)


def submit(form, capture, **values) -> Record:
    with capture(execute=True):
        record, _ = record_submit(form=form, values=values)
    return record


def test_a_tree_never_published_does_not_run(django_capture_on_commit_callbacks):
    form = form_create("f", fields=FIELDS)
    tree_create(form, [set_field("out", "ran")], publish=False)

    record = submit(form, django_capture_on_commit_callbacks, name="a")

    assert "out" not in record.values and Run.objects.count() == 0


def test_the_live_form_runs_the_published_version_while_the_draft_holds_an_unconfigured_node(
    builder, django_capture_on_commit_callbacks
):
    form = form_create("f", fields=FIELDS)
    tree = tree_create(form, [set_field("out", "v1")])
    node_add(tree=tree, kind="condition")  # picked from the menu, not configured yet
    node_update(node=Node.objects.get(tree=tree, config__field="out"), label="", config={"field": "out", "value": "v2"})

    record = submit(form, django_capture_on_commit_callbacks, name="a")

    assert record.values["out"] == "v1"  # neither the unconfigured node nor the edit is live
    assert Run.objects.get().version.number == 1


def test_publish_refuses_a_draft_with_problems_naming_each_node_and_changes_nothing(builder):
    form = form_create("f", fields=FIELDS)
    tree = tree_create(form, [set_field("out", "v1")])
    condition = node_add(tree=tree, kind="condition")
    node_update(node=condition, label="", config={"field": "status", "op": "eq", "value": "Wonn"})
    template = node_add(tree=tree, kind="action", action="set_field")
    node_update(node=template, label="", config={"field": "out", "value": "{% if %}"})
    gone = node_add(tree=tree, kind="action", action="set_field")
    node_update(node=gone, label="", config={"field": "renamed", "value": "x"})

    with pytest.raises(PublishRefused) as refused:
        tree_publish(tree=tree, user=builder)

    problems = refused.value.problems
    assert set(problems) == {condition.pk, template.pk, gone.pk}
    assert "'Wonn' is not one of the choices of status (Open, Won, Lost)" in problems[condition.pk][0]
    assert "Template error" in problems[template.pk][0]
    assert "no field named 'renamed'" in problems[gone.pk][0]
    assert TreeVersion.objects.count() == 1 and EventTree.objects.get().published.number == 1


def test_publish_makes_a_numbered_version_with_who_when_and_note_that_the_next_submit_runs(
    builder, django_capture_on_commit_callbacks
):
    form = form_create("f", fields=FIELDS)
    tree = tree_create(form, [set_field("out", "v1")])
    submit(form, django_capture_on_commit_callbacks, name="before")
    node_update(node=Node.objects.get(tree=tree), label="", config={"field": "out", "value": "v2"})

    with django_capture_on_commit_callbacks(execute=True):  # the builder's request commits
        version = tree_publish(tree=tree, user=builder, note="second value")

    assert (version.number, version.published_by, version.note) == (2, builder, "second value")
    record = submit(form, django_capture_on_commit_callbacks, name="after")
    assert record.values["out"] == "v2"
    assert [run.version.number for run in Run.objects.order_by("id")] == [1, 2]
    assert Record.objects.get(values__name="before").values["out"] == "v1"


def test_a_pending_block_runs_its_versions_nodes_after_a_new_version_and_the_nodes_deletion(
    builder, django_capture_on_commit_callbacks, drain_blocks
):
    form = form_create("f", fields=FIELDS)
    tree = tree_create(form, [{"kind": "delay", "seconds": 3600, "label": "Later", "children": [set_field("out", "v1")]}])
    first = submit(form, django_capture_on_commit_callbacks, name="first")
    delay = Node.objects.get(tree=tree, kind="delay")
    node_delete(node=delay)
    node_add(tree=tree, kind="background")
    background = Node.objects.get(tree=tree, kind="background")
    node_add(tree=tree, kind="action", action="set_field", parent_id=background.pk)
    node_update(node=Node.objects.get(tree=tree, kind="action"), label="", config={"field": "out", "value": "v2"})
    with django_capture_on_commit_callbacks(execute=True):
        tree_publish(tree=tree, user=builder)
    second = submit(form, django_capture_on_commit_callbacks, name="second")

    drain_blocks()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.values["out"], second.values["out"]) == ("v1", "v2")
    assert set(Block.objects.values_list("state", flat=True)) == {BlockState.DONE}


def test_discard_makes_the_draft_the_live_version_again_with_the_same_node_ids(builder):
    form = form_create("f", fields=FIELDS)
    tree = tree_create(form, [set_field("out", "v1"), {"kind": "background", "children": [action("log", message="x")]}])
    before = sorted(Node.objects.filter(tree=tree).values_list("id", "parent_id", "position", "kind", "config"))
    node_delete(node=Node.objects.get(tree=tree, kind="background"))
    node_add(tree=tree, kind="condition")
    node_update(node=Node.objects.get(tree=tree, kind="action"), label="edited", config={"field": "out", "value": "x"})

    draft_discard(tree=tree)

    after = sorted(Node.objects.filter(tree=tree).values_list("id", "parent_id", "position", "kind", "config"))
    assert after == before and not Node.objects.filter(label="edited").exists()


def test_an_older_version_published_again_is_a_new_version_and_leaves_the_draft(
    builder, django_capture_on_commit_callbacks
):
    form = form_create("f", fields=FIELDS)
    tree = tree_create(form, [set_field("out", "v1")])
    first = tree.published
    node_update(node=Node.objects.get(tree=tree), label="", config={"field": "out", "value": "v2"})
    tree_publish(tree=tree, user=builder)

    with django_capture_on_commit_callbacks(execute=True):
        again = version_republish(version=first, user=builder)

    assert again.number == 3 and again.nodes == first.nodes and "Version 1" in again.note
    assert submit(form, django_capture_on_commit_callbacks, name="a").values["out"] == "v1"
    assert Node.objects.get(tree=tree).config["value"] == "v2"  # the draft is the builder's still
