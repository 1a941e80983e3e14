"""The editor's marks of what the draft changed against the live version (eventtree/draft_changes.py,
shown by the tree editor): new, changed, and moved for the fewest nodes that explain the order."""

from __future__ import annotations

import pytest
from django.test import Client

from eventtree import selectors
from eventtree.draft_changes import longest_ordered, node_changes
from eventtree.models import Node
from eventtree.services import trees as tree_services
from tests.factories import action, form_create, tree_create

pytestmark = pytest.mark.django_db


def entries(*siblings: tuple[int, int | None], content: str = "x") -> dict[int, dict]:
    """Nodes by id as `nodes_by_id` gives them, from (id, parent) in order of each list."""
    found, indexes = {}, {}
    for node_id, parent in siblings:
        index = indexes[parent] = indexes.get(parent, -1) + 1
        found[node_id] = {"kind": "action", "action": "log", "label": "", "config": {"message": content},
                          "parent": parent, "index": index}
    return found


def test_the_fewest_nodes_are_marked_moved():
    live = entries((1, None), (2, None), (3, None), (4, None))
    assert node_changes(entries((1, None), (2, None), (3, None), (4, None)), live) == {}
    assert node_changes(entries((4, None), (1, None), (2, None), (3, None)), live) == {4: "moved"}
    assert node_changes(entries((2, None), (3, None), (4, None), (1, None)), live) == {1: "moved"}
    assert len(node_changes(entries((2, None), (1, None), (3, None), (4, None)), live)) == 1  # a swap: one of two


def test_adding_or_deleting_a_node_marks_no_sibling():
    live = entries((1, None), (2, None), (3, None))
    assert node_changes(entries((9, None), (1, None), (2, None), (3, None)), live) == {9: "new"}
    assert node_changes(entries((1, None), (3, None)), live) == {}


def test_a_node_under_another_parent_is_moved_and_a_changed_one_is_changed():
    live = entries((1, None), (2, None), (3, 1))
    draft = entries((1, None), (2, None), (3, 2))
    assert node_changes(draft, live) == {3: "moved"}
    changed = entries((1, None), (2, None), (3, 2), content="y")
    assert node_changes(changed, live) == {1: "changed", 2: "changed", 3: "changed"}


def test_longest_ordered():
    assert longest_ordered([]) == set()
    assert longest_ordered([0, 1, 2]) == {0, 1, 2}
    assert longest_ordered([3, 0, 1, 2]) == {1, 2, 3}
    assert len(longest_ordered([1, 0])) == 1


def test_the_editor_marks_only_the_node_added_and_the_node_moved(staff: Client):
    form = form_create("marks")
    tree = tree_create(form, [action("log", message=str(i)) for i in range(6)])
    first, *_, last = Node.objects.filter(tree=tree).order_by("position")
    tree_services.node_add(tree=tree, kind="action", action="log", index=0)
    tree_services.node_move(node=last, parent_id=None, index=1)

    editor = selectors.tree_editor(tree=selectors.tree_get(tree_id=tree.pk))

    marks = {node.pk: node.change for node in editor.nodes.values() if node.change}
    added = Node.objects.get(tree=tree, config={})
    assert marks == {added.pk: "new", last.pk: "moved"}
    assert editor.changed_count == 2
    page = staff.get(f"/builder/trees/{tree.pk}/").content.decode()
    assert page.count('class="change-badge') == 2
