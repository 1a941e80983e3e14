"""Node add / move / shift / delete (eventtree/services/trees.py)."""

from __future__ import annotations

import pytest

from eventtree.engine.trees import tree_load
from eventtree.models import Node
from eventtree.services.trees import TreeEditError, node_add, node_delete, node_duplicate, node_move, node_shift
from tests.factories import action, form_create, tree_create

pytestmark = pytest.mark.django_db


def shape(tree) -> list:
    def walk(nodes):
        return [(n.config.get("message") or n.kind, walk(n.child_nodes)) if n.child_nodes
                else (n.config.get("message") or n.kind) for n in nodes]
    return walk(tree_load(tree.pk))


@pytest.fixture
def tree():
    form = form_create("f")
    return tree_create(form, [
        action("log", message="a"),
        {"kind": "background", "children": [action("log", message="b1"), action("log", message="b2")]},
        action("log", message="c"),
    ])


def node(message: str) -> Node:
    return Node.objects.get(config__message=message)


def test_add_at_an_index_and_at_the_end(tree):
    node_add(tree=tree, kind="action", action="log", index=1)
    node_add(tree=tree, kind="condition", parent_id=Node.objects.get(kind="background").pk)
    assert shape(tree) == ["a", "action", ("background", ["b1", "b2", "condition"]), "c"]


def test_add_refuses_unknown_kinds_actions_and_foreign_parents(tree):
    other = tree_create(form_create("g"), [action("log", message="elsewhere")])
    with pytest.raises(TreeEditError):
        node_add(tree=tree, kind="loop")
    with pytest.raises(TreeEditError):
        node_add(tree=tree, kind="action", action="nope")
    with pytest.raises(TreeEditError):
        node_add(tree=tree, kind="action", action="log", parent_id=node("elsewhere").pk)
    assert other.nodes.count() == 1


def test_move_between_lists_renumbers_both(tree):
    background = Node.objects.get(kind="background")
    node_move(node=node("c"), parent_id=background.pk, index=1)
    node_move(node=node("b1"), parent_id=None, index=0)
    assert shape(tree) == ["b1", "a", ("background", ["c", "b2"])]
    positions = list(Node.objects.filter(parent=background).order_by("position").values_list("position", flat=True))
    assert positions == [0, 1]


def test_a_node_cannot_move_under_itself_or_its_descendants(tree):
    background = Node.objects.get(kind="background")
    with pytest.raises(TreeEditError):
        node_move(node=background, parent_id=background.pk, index=0)
    with pytest.raises(TreeEditError):
        node_move(node=background, parent_id=node("b1").pk, index=0)
    assert shape(tree) == ["a", ("background", ["b1", "b2"]), "c"]


def test_keyboard_moves(tree):
    node_shift(node=node("c"), direction="up")
    assert shape(tree) == ["a", "c", ("background", ["b1", "b2"])]
    node_shift(node=node("a"), direction="down")
    assert shape(tree) == ["c", "a", ("background", ["b1", "b2"])]
    node_shift(node=node("b1"), direction="outdent")
    assert shape(tree) == ["c", "a", ("background", ["b2"]), "b1"]
    node_shift(node=node("b1"), direction="indent")  # into the node above: the background, at its end
    assert shape(tree) == ["c", "a", ("background", ["b2", "b1"])]
    with pytest.raises(TreeEditError):
        node_shift(node=node("c"), direction="up")
    with pytest.raises(TreeEditError):
        node_shift(node=node("c"), direction="outdent")


def test_delete_takes_the_subtree(tree):
    node_delete(node=Node.objects.get(kind="background"))
    assert shape(tree) == ["a", "c"]
    assert Node.objects.count() == 2
    assert list(Node.objects.order_by("position").values_list("position", flat=True)) == [0, 1]


def test_a_new_node_starts_with_its_kinds_default_config(tree):
    delay = node_add(tree=tree, kind="delay")
    condition = node_add(tree=tree, kind="condition", parent_id=delay.pk)

    assert delay.config == {"seconds": 0}
    assert condition.config == {"field": "", "op": "eq", "value": ""}
    with pytest.raises(TreeEditError, match="Unknown node kind 'pause'"):
        node_add(tree=tree, kind="pause")


def test_duplicate_copies_the_subtree_right_after_the_original_in_one_insert_per_level(
        tree, django_assert_num_queries):
    background = Node.objects.get(kind="background")
    node_add(tree=tree, kind="action", action="log", parent_id=node("b1").pk)  # on b1's error port

    # Savepoint, lock, load, the copy, the shift of "c", one INSERT per level below it (two), release.
    with django_assert_num_queries(8):
        copy = node_duplicate(node=background)

    assert shape(tree) == ["a", ("background", [("b1", ["action"]), "b2"]), ("background", [("b1", ["action"]), "b2"]), "c"]
    assert copy.parent_id is None and copy.position == 2
    assert Node.objects.filter(tree=tree).count() == 10
    assert set(Node.objects.filter(parent=copy).values_list("config__message", flat=True)) == {"b1", "b2"}


def test_duplicate_a_node_deleted_meanwhile_is_refused(tree):
    first = node("a")
    Node.objects.filter(pk=first.pk).delete()
    with pytest.raises(TreeEditError, match="not part of this tree"):
        node_duplicate(node=first)
