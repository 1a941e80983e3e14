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
def test_build_the_reference_tree_publish_it_and_change_it_while_the_form_is_live(staff_page: Page, live_server, qcluster, browser):
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

    # Nothing runs before the first Publish; then version 1 is live.
    expect(page.locator(".publish-bar")).to_contain_text("This tree does not run until you publish it")
    publish(page)
    expect(page.locator(".publish-bar")).to_contain_text("Live: version 1")

    visitor = browser.new_context().new_page()  # a visitor, not logged in
    submit(visitor, live_server.url, "Ada")
    mails = wait_until(qcluster.sent_mail, timeout=20)
    assert len(mails) == 1 and "To: ada@example.com" in mails[0]
    values = Record.objects.get().values
    assert [values[f"field_{letter}"] for letter in "abcd"] == ["A:Ada", "B", "C", "D"]

    # A node picked from the menu and left unconfigured: the live form goes on with version 1.
    add_node(page, add_at_end, "Set field")
    page.locator("form.node-edit").get_by_role("link", name="Cancel").click()
    expect(page.locator(".problem-badge")).to_have_count(1)
    expect(page.locator(".publish-bar")).to_contain_text("Draft differs from version 1")
    submit(visitor, live_server.url, "Grace")
    assert Record.objects.get(values__name="Grace").values["field_d"] == "D"

    # Publish is refused with the problem on that node; fixed, it publishes and the form runs it.
    publish(page)
    expect(page.get_by_role("alert")).to_contain_text("Not published: 1 node needs attention")
    unconfigured = page.locator(".node.is-invalid")
    expect(unconfigured.locator(".problems")).to_contain_text("field")
    expect(page.locator(".publish-bar")).to_contain_text("Live: version 1")
    unconfigured.locator(".node-row").get_by_role("link", name=re.compile("^Edit")).click()
    editor = page.locator("form.node-edit")
    editor.get_by_label("Field").fill("field_d")
    editor.get_by_label("Value").fill("D2")
    save(page, editor)
    publish(page, note="field_d says D2")
    expect(page.locator(".publish-bar")).to_contain_text("Live: version 2")
    expect(page.locator("#versions")).to_contain_text("field_d says D2")
    submit(visitor, live_server.url, "Alan")
    assert Record.objects.get(values__name="Alan").values["field_d"] == "D2"
    assert Record.objects.get(values__name="Grace").values["field_d"] == "D"


def publish(page: Page, note: str = "") -> None:
    bar = page.locator(".publish-bar")
    bar.get_by_placeholder("What changed (optional)").fill(note)
    with page.expect_response(re.compile(r"/publish/$")):
        bar.get_by_role("button", name="Publish").click()


def submit(visitor: Page, base_url: str, name: str) -> None:
    visitor.goto(f"{base_url}/f/membership/")
    visitor.get_by_label("Name").fill(name)
    visitor.get_by_label("Email").fill(f"{name.lower()}@example.com")
    visitor.get_by_role("button", name="Submit").click()
    status = visitor.locator("#status")
    expect(status).to_have_attribute("data-status", "done", timeout=60_000)
    expect(status).to_contain_text("Slow part")
