"""System checks over stored forms and trees (eventtree/checks.py)."""

from __future__ import annotations

import pytest

from eventtree.checks import check_stored_trees
from eventtree.models import Field, Node
from tests.factories import action, form_create, tree_create, tree_publish_unchecked

pytestmark = pytest.mark.django_db


def messages() -> list[tuple[str, str]]:
    return [(error.id, error.msg) for error in check_stored_trees(databases=["default"])]


def test_valid_trees_pass() -> None:
    form = form_create("ok", fields=[{"name": "name"}, {"name": "day", "type": "date"}])
    tree_create(form, [action("log", message="hi"), {"kind": "delay", "field": "day", "offset_seconds": -60},
                       {"kind": "condition", "field": "name", "op": "is_set"}])

    assert messages() == []
    assert check_stored_trees(databases=None) == []


def test_every_kind_of_broken_node_and_field_is_reported() -> None:
    form = form_create("bad", fields=[{"name": "name"}])
    tree = tree_create(form, [action("gone_type"), {"kind": "delay", "seconds": 10**12},
                              {"kind": "condition", "field": "", "op": "eq", "value": ""}], name="T")
    Node.objects.create(tree=tree, kind="approval", position=9)
    tree_publish_unchecked(tree)
    Node.objects.create(tree=tree, kind="approval", position=10)  # only in the draft: not checked
    Field.objects.create(form=form, name="id", position=2)
    Field.objects.filter(name="name").update(type="number", default="many")
    gone, delay, condition, approval, _ = Node.objects.order_by("position")
    where = "of tree 'T' (form 'bad', live version 2)"

    assert sorted(messages()) == sorted([
        ("eventtree.E001", f"node {gone.pk} {where} uses the unknown action type 'gone_type'."),
        ("eventtree.E002", f"node {delay.pk} {where}: seconds: at most 315619200 seconds (10 years (3653 days))"),
        ("eventtree.E002", f"node {condition.pk} {where}: field: required"),
        ("eventtree.E003", f"node {approval.pk} {where} is of the unknown kind 'approval'."),
        ("eventtree.E004", "field 'id' of form 'bad': 'id' is a reserved name (not created_at, csrfmiddlewaretoken, id)"),
        ("eventtree.E005", "field 'name' of form 'bad': invalid default: 'many' is not a number"),
    ])
