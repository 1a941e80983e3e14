"""How every builder screen answers: the page, or its named partial for htmx; and how the tree
editor answers a node edit over htmx: only what changed on the page, swapped out of band."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget, trigger_client_event

from eventtree import selectors
from eventtree.engine.trees import subtree_iter
from eventtree.models import EventTree, Node
from eventtree.selectors import EditorTree
from eventtree.views.types import HtmxHttpRequest

TREE_TEMPLATE = "eventtree/builder/tree.html"
ID_SLOT = 987654321  # reversed in place of a node's id, then replaced by each node's
STAMP_HEADER = "X-Draft-Stamp"  # sent by editor.js: which draft the page shows (draft_stamp)
# The first field a person types in of a node's edit form (not its hidden CSRF token).
FOCUS_FIELD = "#card-{} .node-edit :is(input:not([type=hidden]), select, textarea)"


def editor_response(request: HtmxHttpRequest, template: str, context: dict[str, Any],
                    partial: str | None = None, status: int = 200) -> HttpResponse:
    """The whole page, or its named partial for an htmx request (the whole page again when htmx
    restores history it did not keep); never cached (back shows now)."""
    whole = not request.htmx or request.htmx.history_restore_request
    name = template if whole or not partial else f"{template}#{partial}"
    response = render(request, name, context, status=status)
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ["HX-Request"])
    return response


def leave_to(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """Go to `url` after a change that removed the current page (htmx follows it as a full load)."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def editor_context(request: HtmxHttpRequest, tree: EventTree, editor: EditorTree) -> dict[str, Any]:
    """What every rendering of the tree editor needs. Each URL is reversed once, not once per
    node: a 300-node page made 3,300 reverse() calls, about half its time."""
    head, tail = reverse("builder:node", args=[ID_SLOT]).split(str(ID_SLOT))
    for node in editor.nodes.values():
        # Text, not a number: a number in a template goes through localisation.
        node.ref = str(node.pk)
        node.edit_url = f"{head}{node.ref}{tail}"
        if not hasattr(node, "test_step"):
            node.test_step = None
    return {
        # Every name the node partials read is set: a missing one costs three exceptions (and a
        # dir() of the node) per lookup, a quarter of a 300-node page's time.
        "flash": None, "editing": None, "oob": False, "phase_oob": "",
        "tree": tree, "form": tree.form, "editor": editor,
        "can_edit": request.user.has_perm("eventtree.change_eventtree"),
        "tree_url": reverse("builder:tree", args=[tree.pk]),
        "add_url": reverse("builder:node-add", args=[tree.pk]),
        "move_url": reverse("builder:node-move", args=[ID_SLOT]).replace(str(ID_SLOT), "{id}"),
        "delete_url": reverse("builder:node-delete", args=[ID_SLOT]).replace(str(ID_SLOT), "{id}"),
        "duplicate_url": reverse("builder:node-duplicate", args=[ID_SLOT]).replace(str(ID_SLOT), "{id}"),
        # Each node's last outcomes (views/builder/runs.py), for who may see runs.
        "runs_url": reverse("builder:node-runs", args=[ID_SLOT]).replace(str(ID_SLOT), "{id}")
        if request.user.has_perm("eventtree.view_run") else "",
        "draft_stamp": draft_stamp(editor),
    }


def draft_stamp(editor: EditorTree) -> str:
    """A digest of what the editor's tree shows: each node's place, card and phase, the bar and
    the banner. The page sends it back with each edit, since an answer made of the changes since
    `before` is right only for a page that showed `before`."""
    state = [(node.pk, node.parent_id, card_state(node), phase_state(node)) for node in subtree_iter(editor.roots)]
    seen = (state, status_line(editor), editor.invalid_count)
    return hashlib.blake2b(repr(seen).encode(), digest_size=8).hexdigest()


@dataclass
class EditorChanges:
    """What a node edit changed on the editor's page: what its answer swaps."""

    cards: list[Node] = field(default_factory=list)  # nodes whose card shows something else
    phases: list[tuple[Node, str]] = field(default_factory=list)  # a phase, and the selector of its nodes
    added: list[tuple[Node, str]] = field(default_factory=list)  # new nodes, and where they go
    deleted: list[int] = field(default_factory=list)  # the top nodes of deleted subtrees
    status: bool = False  # the publish bar's "Draft differs from version N" line
    tools: bool = False  # Publish and Discard appear or go
    attention: bool = False  # "N nodes need attention"


def editor_changes(before: EditorTree, after: EditorTree, node_id: int | None = None) -> EditorChanges:
    """Compare the editor before and after an edit of `node_id` (whose card is always swapped)."""
    changes = EditorChanges(
        status=status_line(before) != status_line(after),
        tools=before.differs != after.differs,
        attention=before.invalid_count != after.invalid_count,
    )
    phased: dict[int, Node] = {}
    for node_id_, node in after.nodes.items():
        old = before.nodes.get(node_id_)
        if old is None:
            if node.parent_id is None or node.parent_id in before.nodes:
                changes.added.append((node, place_of(after, node)))
        elif node_id_ == node_id or card_state(old) != card_state(node):
            changes.cards.append(node)
        elif phase_state(old) != phase_state(node):
            phased[node_id_] = node
    changes.deleted = [node_id_ for node_id_, old in before.nodes.items()
                       if node_id_ not in after.nodes and (old.parent_id is None or old.parent_id in after.nodes)]
    changes.phases = phase_swaps(before, after, node_id, phased, changes.cards)
    return changes


def card_state(node: Node) -> tuple:
    return node.kind, node.action, node.label, node.summary, tuple(node.problems), node.change


def phase_state(node: Node) -> tuple:
    return node.phase_key, node.phase_label, node.phase_source


def status_line(editor: EditorTree) -> tuple:
    return editor.differs, editor.changed_count, tuple(editor.removed)


def place_of(editor: EditorTree, node: Node) -> str:
    """Where `node` goes on the page (an hx-swap-oob value): after its previous sibling, or first
    in its parent's list."""
    siblings = editor.nodes[node.parent_id].child_nodes if node.parent_id else editor.roots
    index = next(index for index, sibling in enumerate(siblings) if sibling.pk == node.pk)
    if index:
        return f"afterend:#node-{siblings[index - 1].pk}"
    return f"afterbegin:#node-{node.parent_id} > .node-list" if node.parent_id else "afterbegin:#tree .root-list"


def phase_swaps(before: EditorTree, after: EditorTree, node_id: int | None, phased: dict[int, Node],
                cards: list[Node]) -> list[tuple[Node, str]]:
    """One swap per phase that changed for the nodes of `node_id`'s subtree: a moved subtree takes
    its new parent's phase, a re-timed Delay gives its children a new one. Each node's phase names
    its source (`ps-<id>`), so one swap finds them all, whatever the subtree's size. A change that
    does not fit that shape is swapped card by card."""
    scope = {node.pk for node in subtree_iter([after.nodes[node_id]])} if node_id in after.nodes else set()
    carded = {node.pk for node in cards}
    groups: dict[Any, list[Node]] = {}
    for node_id_, node in phased.items():
        groups.setdefault(before.nodes[node_id_].phase_source, []).append(node)
    swaps = []
    for source, nodes in groups.items():
        # The nodes the selector finds: those still showing the old source once the cards are in.
        found = {pk for pk in scope if pk in before.nodes and before.nodes[pk].phase_source == source
                 and not (pk in carded and after.nodes[pk].phase_source != source)}
        new = phase_state(nodes[0])
        if {node.pk for node in nodes} <= found and all(phase_state(after.nodes[pk]) == new for pk in found):
            swaps.append((nodes[0], f"#node-{node_id} .ps-{source}"))
        else:
            cards.extend(nodes)
    return swaps


def changes_response(request: HtmxHttpRequest, tree: EventTree, before: EditorTree, *,
                     node_id: int | None = None, place: bool = False, focus: str = "",
                     **extra: Any) -> HttpResponse:
    """The answer to a node edit over htmx: the cards, phases, nodes and bar parts that changed
    between `before` and now, out of band; `place` has editor.js put the moved `node_id` where it
    now is (after its previous sibling); and any test-run marks, which were the old draft's, go."""
    after = selectors.tree_editor(tree=tree, versions=False, previous=before)
    context = {**editor_context(request, tree, after), "changes": editor_changes(before, after, node_id), **extra}
    sent = request.headers.get(STAMP_HEADER)
    if sent and sent != draft_stamp(before):
        # The page showed another draft (another builder's edit came first): the whole tree.
        return resync_response(request, editor_response(request, TREE_TEMPLATE, context, "tree"))
    response = editor_response(request, TREE_TEMPLATE, context, "changes")
    detail: dict[str, Any] = {"focus": focus}
    if place and node_id in after.nodes:
        node = after.nodes[node_id]
        siblings = after.nodes[node.parent_id].child_nodes if node.parent_id else after.roots
        index = siblings.index(node)
        detail["place"] = {"node": node.pk, "parent": node.parent_id,
                           "after": siblings[index - 1].pk if index else None}
    trigger_client_event(response, "eventtree:changed", detail, after="settle")
    return reswap(response, "none")


def card_response(request: HtmxHttpRequest, tree: EventTree, editor: EditorTree, node_id: int,
                  **extra: Any) -> HttpResponse:
    """A node's card alone (its edit form open, with its errors), swapped out of band."""
    context = {**editor_context(request, tree, editor), "changes": EditorChanges(cards=[editor.nodes[node_id]]),
               "editing": node_id, **extra}
    response = editor_response(request, TREE_TEMPLATE, context, "changes")
    trigger_client_event(response, "eventtree:focus", {"focus": FOCUS_FIELD.format(node_id)},
                         after="settle")
    return reswap(response, "none")


def refusal_response(request: HtmxHttpRequest, message: str) -> HttpResponse:
    """An edit the tree did not take, said above the tree: nothing else changed on the page."""
    response = editor_response(request, TREE_TEMPLATE, {"error": message, "oob": True}, "alert")
    return reswap(response, "none")


def resync_response(request: HtmxHttpRequest, response: HttpResponse) -> HttpResponse:
    """`response`, the whole tree, in place of the page's: after a refused drag-and-drop, whose
    move the page already shows."""
    return reswap(retarget(response, "#tree"), "outerHTML")
