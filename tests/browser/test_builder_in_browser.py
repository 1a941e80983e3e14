"""Builders in Chromium: build the reference tree through the editor alone, and move nodes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from eventtree.engine.trees import tree_load
from eventtree.models import EventTree, Node, Record
from tests.factories import action, form_create, tree_create
from tests.workers import wait_until

pytestmark = [pytest.mark.browser]


def row(page: Page, text: str) -> Locator:
    return page.locator(".node-row", has_text=text).first


def add_node(page: Page, opener: Locator, choice: str) -> Locator:
    """Open an add menu, pick a kind or action type; returns the edit form that opens."""
    opener.click()
    with page.expect_response(re.compile(r"/nodes/add/$")):
        page.locator(".add-menu").get_by_role("button", name=choice, exact=True).click()
    editor = page.locator("form.node-edit")
    expect(editor).to_be_visible()
    return editor


def save(page: Page, editor: Locator) -> None:
    with page.expect_response(re.compile(r"/builder/nodes/\d+/$")):
        editor.get_by_role("button", name="Save").click()
    expect(page.locator("form.node-edit")).to_have_count(0)


def set_field(page: Page, opener: Locator, field: str, value: str) -> None:
    editor = add_node(page, opener, "Set field")
    editor.get_by_label("Field").fill(field)
    editor.get_by_label("Value").fill(value)
    save(page, editor)


def add_field(page: Page, name: str, type_label: str, *, required: bool = False, internal: bool = False) -> None:
    adder = page.locator("#field-add")
    adder.get_by_label("Name").fill(name)
    adder.get_by_label("Type").select_option(label=type_label)
    adder.get_by_label("Required").set_checked(required)
    adder.get_by_label("Internal").set_checked(internal)
    with page.expect_response(re.compile(r"/fields/add/$")):
        adder.get_by_role("button", name="Add field").click()
    expect(page.locator(f'#fields tr[data-field="{name}"]')).to_be_visible()


@pytest.mark.integration
def test_build_the_reference_tree_in_the_editor_and_submit_it(staff_page: Page, live_server, qcluster, browser):
    page = staff_page
    new_form = page.locator("form", has=page.get_by_role("button", name="Create form"))
    new_form.get_by_label("Name").fill("Membership application")
    new_form.get_by_label("Slug").fill("membership")
    new_form.get_by_role("button", name="Create form").click()
    expect(page.get_by_role("heading", name="Membership application", level=1)).to_be_visible()

    add_field(page, "name", "Text", required=True)
    add_field(page, "email", "Email", required=True)
    for letter in "abcd":
        add_field(page, f"field_{letter}", "Text", internal=True)

    tree_form = page.locator("form", has=page.get_by_role("button", name="Add tree"))
    tree_form.get_by_label("Name").fill("On submit")
    tree_form.get_by_role("button", name="Add tree").click()
    expect(page.get_by_role("heading", name="On submit")).to_be_visible()

    add_at_end = page.get_by_role("link", name="+ Add a node at the end")
    set_field(page, add_at_end, "field_a", "A:{{ record.name }}")
    editor = add_node(page, add_at_end, "Background")
    editor.get_by_label("Label").fill("Slow part")
    save(page, editor)
    set_field(page, row(page, "Slow part").get_by_role("link", name="+ inside"), "field_b", "B")
    set_field(page, row(page, "set field_b").get_by_role("link", name="+ after"), "field_c", "C")
    editor = add_node(page, row(page, "set field_c").get_by_role("link", name="+ after"), "Send email")
    editor.get_by_label("To").fill("{{ record.email }}")
    editor.get_by_label("Subject").fill("Welcome {{ record.name }}")
    editor.get_by_label("Body").fill("Hello {{ record.name }}")
    save(page, editor)
    set_field(page, add_at_end, "field_d", "D")

    expect(page.locator(".problem-badge")).to_have_count(0)
    expect(row(page, "set field_b")).to_contain_text("in background")
    expect(row(page, "set field_d")).to_contain_text("before redirect")
    tree = EventTree.objects.get()
    shape = [(n.kind, n.config.get("field"), [c.config.get("field") or c.action for c in n.child_nodes])
             for n in tree_load(tree.pk)]
    assert shape == [("action", "field_a", []),
                     ("background", None, ["field_b", "field_c", "send_email"]),
                     ("action", "field_d", [])]

    visitor = browser.new_context().new_page()  # a visitor, not logged in
    visitor.goto(f"{live_server.url}/f/membership/")
    visitor.get_by_label("Name").fill("Ada")
    visitor.get_by_label("Email").fill("ada@example.com")
    visitor.get_by_role("button", name="Submit").click()
    status = visitor.locator("#status")
    expect(status).to_have_attribute("data-status", "done", timeout=60_000)
    expect(status).to_contain_text("Slow part")
    mails = wait_until(qcluster.sent_mail, timeout=20)
    assert len(mails) == 1 and "To: ada@example.com" in mails[0]
    values = Record.objects.get().values
    assert [values[f"field_{letter}"] for letter in "abcd"] == ["A:Ada", "B", "C", "D"]


def drag(page: Page, source: Locator, target: Locator, *, below: bool = False) -> None:
    """Drag with real mouse moves: Sortable's fallback mode follows them (native DnD would not)."""
    start = source.locator(":scope > .node-row .drag-handle").bounding_box()
    box = target.locator(":scope > .node-row").bounding_box()
    y = box["y"] + (box["height"] * 0.8 if below else box["height"] * 0.2)
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    steps = 12
    for i in range(1, steps + 1):
        page.mouse.move(start["x"] + 4 + (box["x"] + 60 - start["x"]) * i / steps,
                        start["y"] + (y - start["y"]) * i / steps)
        page.wait_for_timeout(30)
    with page.expect_response(re.compile(r"/nodes/\d+/move/$")):
        page.mouse.up()


def page_order(page: Page) -> list[str]:
    return page.locator(".root-list > .node > .node-row .summary").all_inner_texts()


def db_order(tree: EventTree) -> list[str]:
    return [f"log {n.config['message']!r}" if n.kind == "action" else n.kind
            for n in Node.objects.filter(tree=tree, parent=None).order_by("position")]


def test_move_by_drag_and_drop_and_by_buttons(staff_page: Page, live_server):
    form = form_create("moves")
    tree = tree_create(form, [action("log", message="first"), action("log", message="second"),
                              action("log", message="third"), action("log", message="fourth")])
    page = staff_page
    page.goto(f"{live_server.url}/builder/trees/{tree.pk}/")
    expect(page.locator(".root-list > .node")).to_have_count(4)

    node = lambda message: page.locator(".root-list > .node", has=page.locator(":scope > .node-row", has_text=message))  # noqa: E731
    drag(page, node("fourth"), node("first"))
    expect(page.locator(".root-list > .node").first).to_contain_text("fourth")

    with page.expect_response(re.compile(r"/move/$")):
        node("first").locator(":scope > .node-row").get_by_role("button", name="Move down").click()

    expected = ["log 'fourth'", "log 'second'", "log 'first'", "log 'third'"]
    expect(page.locator(".root-list > .node > .node-row .summary")).to_have_text(expected)
    assert db_order(tree) == expected
    page.reload()
    assert page_order(page) == expected == db_order(tree)

    # Leave and come back with the browser's back button: the page shows the saved order, not a
    # copy from before the edits.
    with page.expect_response(re.compile(r"/move/$")):
        node("third").locator(":scope > .node-row").get_by_role("button", name="Move up").click()
    page.get_by_role("link", name="Moves").first.click()
    expect(page.get_by_role("heading", name="Moves", level=1)).to_be_visible()
    page.go_back()
    moved = ["log 'fourth'", "log 'second'", "log 'third'", "log 'first'"]
    expect(page.locator(".root-list > .node > .node-row .summary")).to_have_text(moved)
    assert db_order(tree) == moved
