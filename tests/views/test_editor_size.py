"""The tree editor's cost in queries and bytes (never in time: bench/editor.py measures that): the
page of a 300-node tree makes as many queries as a 10-node one and stays small per node; a node
edit over htmx answers with what it changed only, whatever the tree's size."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from eventtree.models import EventTree, Node
from eventtree.services import trees as tree_services
from tests.factories import form_create, set_field, tree_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
EDIT_BYTES = 5_000
PAGE_BYTES = 250_000


def big_tree(size: int, slug: str) -> EventTree:
    """`size` nodes (a multiple of 3): Background > Condition > Set field, repeated; published,
    then one node changed, so that the draft differs from the live version."""
    form = form_create(slug, fields=[{"name": "name"}, {"name": "out", "internal": True}])
    tree = tree_create(form, [
        {"kind": "background", "children": [
            {"kind": "condition", "field": "name", "op": "eq", "value": str(i),
             "children": [set_field("out", f"value {i}")]}]}
        for i in range(size // 3)])
    first = Node.objects.filter(tree=tree, kind="action").order_by("id").first()
    Node.objects.filter(pk=first.pk).update(config={**first.config, "value": "changed"})
    assert tree.nodes.count() == size
    return tree


def queries_and_response(call: Callable[[], Any]) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    return len(queries), response


def test_the_page_makes_as_many_queries_for_300_nodes_as_for_10_and_stays_small(staff: Client):
    small, big = big_tree(9, "small"), big_tree(300, "big")

    small_queries, small_page = queries_and_response(lambda: staff.get(f"/builder/trees/{small.pk}/"))
    big_queries, big_page = queries_and_response(lambda: staff.get(f"/builder/trees/{big.pk}/"))

    assert big_page.content.decode().count('<li class="node"') == 300
    assert big_queries == small_queries
    per_node = (len(big_page.content) - len(small_page.content)) / (300 - 9)
    assert per_node < 650, per_node
    assert len(big_page.content) < PAGE_BYTES


def edit_calls(client: Client, tree: EventTree) -> dict[str, Callable[[], Any]]:
    """One of each node edit over htmx on `tree`, each on nodes in the middle of it."""
    roots = list(Node.objects.filter(tree=tree, parent=None).order_by("position"))
    middle = roots[len(roots) // 2]
    condition = middle.children.get()
    action = condition.children.get()
    spare = Node.objects.create(tree=tree, parent=None, position=len(roots), kind="action", action="log",
                                config={"message": "spare"})
    return {
        "save": lambda: client.post(f"/builder/nodes/{action.pk}/",
                                    {"label": "Saved", "config-field": "out", "config-value": "new"}, **HTMX),
        "save refused": lambda: client.post(f"/builder/nodes/{action.pk}/",
                                            {"label": "", "config-field": "nope", "config-value": "x"}, **HTMX),
        "move up": lambda: client.post(f"/builder/nodes/{middle.pk}/move/", {"direction": "up"}, **HTMX),
        "move down": lambda: client.post(f"/builder/nodes/{middle.pk}/move/", {"direction": "down"}, **HTMX),
        "indent": lambda: client.post(f"/builder/nodes/{middle.pk}/move/", {"direction": "indent"}, **HTMX),
        "outdent": lambda: client.post(f"/builder/nodes/{condition.pk}/move/", {"direction": "outdent"}, **HTMX),
        "drop": lambda: client.post(f"/builder/nodes/{action.pk}/move/", {"parent": roots[1].pk, "index": 0}, **HTMX),
        "add": lambda: client.post(f"/builder/trees/{tree.pk}/nodes/add/",
                                   {"choice": "action:send_email", "after": middle.pk}, **HTMX),
        "delete": lambda: client.post(f"/builder/nodes/{spare.pk}/delete/", **HTMX),
        "delete a subtree": lambda: client.post(f"/builder/nodes/{middle.pk}/delete/", **HTMX),
        "open the edit form": lambda: client.get(f"/builder/nodes/{action.pk}/", **HTMX),
        "open the add menu": lambda: client.get(f"/builder/trees/{tree.pk}/nodes/add/?after={middle.pk}", **HTMX),
        "duplicate": lambda: client.post(f"/builder/nodes/{middle.pk}/duplicate/", **HTMX),
        "preview": lambda: client.post(f"/builder/nodes/{action.pk}/preview/", {"config-value": "{{ record.name }}"}, **HTMX),
    }


EDITS = ["save", "save refused", "move up", "move down", "indent", "outdent", "drop", "add", "delete",
         "delete a subtree", "open the edit form", "open the add menu", "duplicate", "preview"]


@pytest.mark.parametrize("edit", EDITS)
def test_a_node_edit_answers_in_a_few_kb_with_as_many_queries_whatever_the_tree_size(staff: Client, edit: str):
    small, big = big_tree(9, "small"), big_tree(300, "big")
    small_queries, small_answer = queries_and_response(edit_calls(staff, small)[edit])
    big_queries, big_answer = queries_and_response(edit_calls(staff, big)[edit])

    assert small_answer.status_code == big_answer.status_code == 200
    assert len(big_answer.content) <= EDIT_BYTES, len(big_answer.content)
    assert big_queries == small_queries
    body = big_answer.content.decode()
    assert '<section id="tree"' not in body and "alert-error" not in body


def test_the_edits_change_the_tree_as_asked(staff: Client):
    tree = big_tree(9, "small")
    calls = edit_calls(staff, tree)
    roots = list(Node.objects.filter(tree=tree, parent=None).order_by("position"))
    for edit in ("save", "move up", "add", "delete"):
        assert calls[edit]().status_code == 200
    assert [node.pk for node in Node.objects.filter(tree=tree, parent=None).order_by("position")][:3] == [
        roots[1].pk, Node.objects.get(tree=tree, action="send_email").pk, roots[0].pk]
    assert Node.objects.get(tree=tree, label="Saved").config == {"field": "out", "value": "new"}
    assert not Node.objects.filter(tree=tree, config__message="spare").exists()


def oob(body: str, element_id: str) -> str:
    """The out-of-band element with `element_id` in an htmx answer (its opening tag to the end of
    its card or paragraph)."""
    match = re.search(rf'<(\w+) [^>]*id="{element_id}"[^>]*hx-swap-oob="true"', body)
    assert match, f"no out-of-band #{element_id} in the answer"
    return body[match.start():]


def events(response) -> dict[str, Any]:
    return json.loads(response.headers.get("HX-Trigger-After-Settle", "{}"))


def test_a_save_swaps_the_node_card_and_the_parts_of_the_bar_and_banner_that_changed(staff: Client, membership):
    _, tree = membership
    node = Node.objects.get(tree=tree, config__field="field_d")
    save = {"label": "Last", "config-field": "field_d", "config-value": "DD"}

    first = staff.post(f"/builder/nodes/{node.pk}/", save, **HTMX)

    body = first.content.decode()
    assert first["HX-Reswap"] == "none"
    assert "<strong>Last</strong>" in card(body, node.pk) and "node-edit" not in card(body, node.pk)
    assert "Draft differs from version 1</strong>:\n      1 node new or changed." in oob(body, "live-status")
    assert "Publish" in oob(body, "publish-tools")  # the draft differs now: Publish and Discard appear
    assert 'id="attention"' not in body  # nothing needs attention, before or after
    assert events(first)["eventtree:changed"]["focus"] == f"#card-{node.pk} .node-tools > a"

    refused = staff.post(f"/builder/nodes/{node.pk}/", {**save, "config-value": "{{ record.name|nosuchfilter }}"}, **HTMX)
    assert "Template error" in card(refused.content.decode(), node.pk)  # the form, with its error, in the card
    assert "live-status" not in refused.content.decode() and "eventtree:changed" not in refused.headers.get(
        "HX-Trigger-After-Settle", "")

    Node.objects.filter(pk=node.pk).update(config={"field": "nope", "value": "x"})  # as an import could leave it
    fixed = staff.post(f"/builder/nodes/{node.pk}/", {**save, "config-value": "D"}, **HTMX)

    body = fixed.content.decode()
    assert "need" not in oob(body, "attention").split("</div>", 1)[0]  # the banner goes: nothing needs attention
    assert "live-status" not in body  # still 1 node changed (its label)


def test_a_move_says_where_the_node_goes_and_swaps_its_subtree_phases_at_once(staff: Client):
    form = form_create("phases", fields=[{"name": "name"}])
    tree = tree_create(form, [
        {"kind": "background", "label": "Later", "children": [set_field("name", "x")]},
        {"kind": "condition", "field": "name", "op": "is_set", "label": "Check",
         "children": [set_field("name", str(i)) for i in range(40)]},
    ])
    later, check = Node.objects.filter(tree=tree, parent=None).order_by("position")

    response = staff.post(f"/builder/nodes/{check.pk}/move/", {"direction": "indent"}, **HTMX)

    body = response.content.decode()
    assert events(response)["eventtree:changed"]["place"] == {
        "node": check.pk, "parent": later.pk, "after": later.children.order_by("position").first().pk}
    # The 41 nodes now in the background change phase with one swap, not one each.
    assert body.count("in background") == 2  # the condition's card, and the one swap of its subtree
    assert f'hx-swap-oob="outerHTML:#node-{check.pk} .ps-t">in background</span>' in body
    assert len(body) < EDIT_BYTES


def test_a_delete_removes_the_node_and_the_bar_names_it(staff: Client, membership):
    _, tree = membership
    background = Node.objects.get(tree=tree, kind="background")

    response = staff.post(f"/builder/nodes/{background.pk}/delete/", **HTMX)

    body = response.content.decode()
    assert f'<li id="node-{background.pk}" hx-swap-oob="delete">' in body
    assert body.count('hx-swap-oob="delete"') == 1  # its children go with it
    assert "4 removed (Slow part, Set field, Set field, Send email)" in oob(body, "live-status")


def test_an_edit_the_tree_refuses_is_said_alone_unless_the_page_already_shows_it(staff: Client, membership):
    _, tree = membership
    first = Node.objects.get(tree=tree, parent=None, position=0)
    background = Node.objects.get(tree=tree, kind="background")

    refused = staff.post(f"/builder/nodes/{first.pk}/move/", {"direction": "up"}, **HTMX)
    assert refused["HX-Reswap"] == "none" and "cannot move up" in refused.content.decode()
    assert len(refused.content) < 500

    # A drop is already on the page: the page gets the tree as it is, to undo it.
    dropped = staff.post(f"/builder/nodes/{background.pk}/move/",
                         {"parent": background.children.first().pk, "index": 0}, **HTMX)
    assert dropped["HX-Retarget"] == "#tree" and dropped["HX-Reswap"] == "outerHTML"
    assert "cannot move under itself" in dropped.content.decode() and '<section id="tree"' in dropped.content.decode()


def card(html: str, node_id: int | str) -> str:
    """The card of node `node_id` in some HTML, from its opening tag to its closing one."""
    start = html.rindex("<div", 0, html.index(f'id="card-{node_id}"'))
    depth, position = 0, start
    for tag in re.finditer(r"<(/?)div\b", html[start:]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            position = start + tag.end()
            break
    return html[start:html.index(">", position) + 1]


def test_the_cards_an_edit_swaps_are_the_cards_a_reload_shows(staff: Client, membership):
    """Whatever the answers swap in is what the page says once reloaded (but the highlight)."""
    _, tree = membership
    field_d = Node.objects.get(tree=tree, config__field="field_d")
    background = Node.objects.get(tree=tree, kind="background")
    last_cards: dict[str, str] = {}
    for answer in (
        staff.post(f"/builder/nodes/{field_d.pk}/move/", {"direction": "indent"}, **HTMX),
        staff.post(f"/builder/nodes/{field_d.pk}/", {"label": "D", "config-field": "field_d", "config-value": "D!"}, **HTMX),
        staff.post(f"/builder/nodes/{background.pk}/move/", {"direction": "up"}, **HTMX),
        staff.post(f"/builder/trees/{tree.pk}/nodes/add/", {"choice": "delay", "parent": background.pk}, **HTMX),
    ):
        body = answer.content.decode()
        for node_id in re.findall(r'id="card-(\d+)"', body):
            last_cards[node_id] = card(body, node_id)
    page = staff.get(f"/builder/trees/{tree.pk}/").content.decode()

    assert len(last_cards) >= 3
    for node_id, swapped in last_cards.items():
        if "node-edit" in swapped:
            continue  # the new node's card opens with its edit form
        assert swapped.replace(' hx-swap-oob="true"', "").replace(" is-flash", "") == card(page, node_id)


def test_without_javascript_the_node_page_has_every_tool_as_a_form(staff: Client, membership):
    _, tree = membership
    background = Node.objects.get(tree=tree, kind="background")

    page = staff.get(f"/builder/nodes/{background.pk}/").content.decode()

    for direction in ("up", "down", "indent", "outdent"):
        assert f'name="direction" value="{direction}"' in page
    assert f'href="/builder/nodes/{background.pk}/delete/"' in page and "and everything inside it" in page
    assert f'action="/builder/nodes/{background.pk}/duplicate/"' in page
    assert f'href="/builder/trees/{tree.pk}/nodes/add/?after={background.pk}"' in page
    assert page.count('name="csrfmiddlewaretoken"') >= 3
    # A delete asks first, on a page of its own, which posts.
    question = staff.get(f"/builder/nodes/{background.pk}/delete/").content.decode()
    assert "Delete “Slow part”?" in question and "The 3 nodes inside it go with it." in question
    assert f'<form method="post" action="/builder/nodes/{background.pk}/delete/"' in question
    assert Node.objects.filter(pk=background.pk).exists()  # asking deleted nothing
    add = staff.post(f"/builder/trees/{tree.pk}/nodes/add/", {"choice": "action:log", "after": background.pk})
    added = Node.objects.get(tree=tree, action="log")
    assert add["Location"] == f"/builder/nodes/{added.pk}/"
    assert added.parent_id is None and added.position == background.position + 1
    deleted = staff.post(f"/builder/nodes/{added.pk}/delete/")
    assert deleted.status_code == 302 and deleted["Location"] == f"/builder/trees/{tree.pk}/"


def test_a_page_that_showed_another_draft_gets_the_whole_tree(staff: Client, membership):
    """Two builders on one tree: the answer to the second one's edit is made of changes only if
    the page sending it showed the draft as it was (the stamp the page sends back)."""
    _, tree = membership
    page = staff.get(f"/builder/trees/{tree.pk}/").content.decode()
    stamp = re.search(r'id="draft-stamp" data-stamp="(\w+)"', page).group(1)
    field_d = Node.objects.get(tree=tree, config__field="field_d")
    move = lambda: staff.post(f"/builder/nodes/{field_d.pk}/move/", {"direction": "up"},  # noqa: E731
                              HTTP_X_DRAFT_STAMP=stamp, **HTMX)

    in_step = move()
    assert in_step["HX-Reswap"] == "none" and '<section id="tree"' not in in_step.content.decode()
    stamp = re.search(r'id="draft-stamp" data-stamp="(\w+)" hidden hx-swap-oob="true"', in_step.content.decode()).group(1)

    tree_services.node_add(tree=tree, kind="action", action="log")  # someone else's edit
    behind = move()

    assert behind["HX-Retarget"] == "#tree" and behind["HX-Reswap"] == "outerHTML"
    body = behind.content.decode()
    assert '<section id="tree"' in body and body.count('<li class="node"') == 7
