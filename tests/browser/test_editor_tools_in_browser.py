"""The tree editor's tools in Chromium (issue 11): a request that fails is said, unsaved typing
survives the swaps around it, containers fold and stay folded, a node is duplicated with its
subtree, and focus lands somewhere useful after Publish."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Route, expect

from eventtree.models import Node
from tests.factories import action, form_create, tree_create

pytestmark = [pytest.mark.browser]


@pytest.fixture
def editor(staff_page: Page, live_server):
    form = form_create("tools", fields=[{"name": "name"}, {"name": "note", "internal": True}])
    tree = tree_create(form, [
        action("log", message="first"),
        {"kind": "background", "label": "Later", "children": [action("log", message="inside"),
                                                             action("log", message="also inside")]},
        action("log", message="last"),
    ])
    staff_page.goto(f"{live_server.url}/builder/trees/{tree.pk}/")
    expect(staff_page.locator(".node-card .node-tools button").first).to_be_attached()
    return staff_page, tree


def card(page: Page, text: str):
    return page.locator(".node-card", has=page.locator(":scope > .node-row", has_text=text)).first


def test_a_request_that_fails_is_said_in_an_alert_and_nothing_is_lost(editor):
    page, tree = editor
    alert = page.locator("#request-error")

    page.route(re.compile(r"/move/$"), lambda route: route.abort("internetdisconnected"))
    card(page, "last").get_by_role("button", name="Move “log 'last'” up").click()
    expect(alert.get_by_role("paragraph")).to_have_text(re.compile("could not be sent: the server cannot be reached"))
    page.unroute(re.compile(r"/move/$"))

    page.route(re.compile(r"/duplicate/$"), lambda route: route.fulfill(status=500, body="boom"))
    card(page, "first").get_by_role("button", name=re.compile("^Duplicate “log 'first'”")).click()
    expect(alert).to_contain_text("The server failed to make this change (500)")
    expect(page.locator(".root-list > .node")).to_have_count(3)
    page.unroute(re.compile(r"/duplicate/$"))

    # The next change that goes through clears the alert.
    with page.expect_response(re.compile(r"/move/$")):
        card(page, "last").get_by_role("button", name="Move “log 'last'” up").click()
    expect(alert).to_be_empty()
    assert [n.config.get("message") or n.label for n in Node.objects.filter(tree=tree, parent=None).order_by("position")] == [
        "first", "last", "Later"]


def test_unsaved_typing_survives_other_edits_and_publish(editor):
    page, tree = editor
    card(page, "first").get_by_role("link", name="Edit “log 'first'”").click()
    first_form = card(page, "first").locator("form.node-edit")
    first_form.get_by_label("Message").fill("typed, not saved")

    # Edit on another node: both stay open.
    card(page, "last").get_by_role("link", name="Edit “log 'last'”").click()
    expect(page.locator("form.node-edit")).to_have_count(2)
    # The node with the open form moves: its card is swapped, the typing stays.
    with page.expect_response(re.compile(r"/move/$")):
        card(page, "first").get_by_role("button", name="Move “log 'first'” down").click()
    expect(card(page, "first").get_by_label("Message")).to_have_value("typed, not saved")
    # The other form is saved: only it closes.
    last_form = card(page, "last").locator("form.node-edit")
    last_form.get_by_label("Message").fill("last, saved")
    with page.expect_response(re.compile(r"/builder/nodes/\d+/$")):
        last_form.get_by_role("button", name=re.compile("^Save")).click()
    expect(page.locator("form.node-edit")).to_have_count(1)
    # Publish replaces the whole editor: the unsaved typing is still there, and focus is on
    # what Publish says.
    with page.expect_response(re.compile(r"/publish/$")):
        page.locator(".publish-bar").get_by_role("button", name="Publish").click()
    expect(page.locator("#tree-alert")).to_contain_text("Published version 2")
    expect(page.locator("#tree-alert .alert")).to_be_focused()
    expect(card(page, "first").get_by_label("Message")).to_have_value("typed, not saved")
    assert Node.objects.get(tree=tree, config__message="first") is not None  # never saved

    # Opening Edit again on the node whose form is open keeps what was typed.
    card(page, "first").get_by_role("link", name="Edit “log 'first'”").click()
    expect(card(page, "first").get_by_label("Label")).to_be_focused()
    expect(card(page, "first").get_by_label("Message")).to_have_value("typed, not saved")


def test_a_builder_already_typing_in_the_form_that_opened_keeps_focus_and_typing(editor):
    """On a slow machine the builder may click into a field of the edit form before the answer
    that opened it says where focus goes: focus stays where the builder is typing."""
    page, tree = editor
    # What the builder does the moment the form is on the page, before the answer settles.
    page.evaluate("""() => {
      document.addEventListener("htmx:oobAfterSwap", (event) => {
        const field = event.target.querySelector && event.target.querySelector("form.node-edit [name=config-message]");
        if (!field || window.typedAt) return;
        window.typedAt = field.id;
        field.focus();
        field.value = "typed at once";
      });
      document.addEventListener("eventtree:focus", () => { window.answered = true; });
    }""")
    card(page, "first").get_by_role("link", name="Edit “log 'first'”").click()
    page.wait_for_function("() => window.answered")
    message = card(page, "first").get_by_label("Message")
    expect(message).to_be_focused()
    expect(message).to_have_value("typed at once")
    expect(card(page, "first").get_by_label("Label")).to_have_value("")


def test_a_container_folds_from_the_keyboard_and_stays_folded(editor):
    page, tree = editor
    later = page.locator(".node", has=page.locator(":scope > .node-card", has_text="Later")).first
    toggle = later.get_by_role("button", name="Nodes inside “Later”")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(later.locator(":scope > .node-list")).to_be_hidden()
    expect(toggle).to_have_attribute("data-count", "2")

    page.reload()
    toggle = later.get_by_role("button", name="Nodes inside “Later”")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_text("also inside")).to_be_hidden()
    # Adding into a folded container unfolds it, so that focus can reach the new node.
    later.locator(":scope > .node-card").get_by_role("button", name="Add a node inside “Later”").click()
    with page.expect_response(re.compile(r"/nodes/add/$")):
        page.locator(".add-menu").get_by_role("button", name="Log", exact=True).click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("form.node-edit").get_by_label("Label")).to_be_focused()
    toggle.press("Space")
    expect(toggle).to_have_attribute("aria-expanded", "false")


def test_duplicate_puts_the_copy_right_after_the_original_and_focus_on_it(editor):
    page, tree = editor
    later = card(page, "Later")
    with page.expect_response(re.compile(r"/duplicate/$")):
        later.get_by_role("button", name="Duplicate “Later” with everything inside it").click()

    expect(page.locator(".root-list > .node > .node-card .summary")).to_have_text(
        ["log 'first'", re.compile("Later"), re.compile("Later"), "log 'last'"])
    copy = Node.objects.filter(tree=tree, label="Later").order_by("-pk").first()
    expect(page.locator(f"#card-{copy.pk} .node-tools > a")).to_be_focused()
    expect(page.locator(f"#node-{copy.pk} .node")).to_have_count(2)
    assert Node.objects.filter(tree=tree).count() == 8  # five, and a copy of three


@pytest.mark.parametrize("width", [1280, 390])
def test_the_forms_list_and_the_editor_fit_the_window_without_scrolling_sideways(editor, live_server, width):
    page, tree = editor
    page.set_viewport_size({"width": width, "height": 900})
    overflow = "document.documentElement.scrollWidth - window.innerWidth"
    page.goto(f"{live_server.url}/builder/")
    assert page.evaluate(overflow) <= 0
    page.goto(f"{live_server.url}/builder/trees/{tree.pk}/")
    expect(page.locator(".node-card .node-tools button").first).to_be_attached()
    assert page.evaluate(overflow) <= 0
    # With an edit form, its preview, a delete's question and a focused tool's tooltip.
    card(page, "first").get_by_role("link", name="Edit “log 'first'”").click()
    expect(page.locator(".template-preview")).to_contain_text("Preview")
    inside = card(page, "log 'inside'")
    inside.get_by_role("button", name="Delete “log 'inside'”").click()
    inside.get_by_role("button", name=re.compile("^Duplicate")).focus()
    assert page.evaluate(overflow) <= 0


def test_closing_a_menu_or_an_edit_form_gives_focus_back_to_what_opened_it(editor):
    page, tree = editor
    after = card(page, "last").get_by_role("button", name="Add a node after “log 'last'”")
    after.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("form", name="Add a node after “log 'last'”")).to_be_visible()
    expect(page.locator(".add-menu button").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator(".add-menu")).to_have_count(0)
    expect(after).to_be_focused()

    edit = card(page, "last").get_by_role("link", name="Edit “log 'last'”")
    edit.focus()
    page.keyboard.press("Enter")
    expect(card(page, "last").get_by_label("Label")).to_be_focused()
    card(page, "last").get_by_role("link", name="Cancel editing “log 'last'”").focus()
    page.keyboard.press("Enter")
    expect(page.locator("form.node-edit")).to_have_count(0)
    expect(edit).to_be_focused()
