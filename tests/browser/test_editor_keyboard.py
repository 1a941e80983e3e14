"""The tree editor driven by the keyboard alone (issue 11): Tab, Shift+Tab, Enter and typing add a
node, edit it, move it and delete it (answering the delete's question). After each step focus is
on a control of the node the step was about, never lost to the page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from eventtree.models import Node
from tests.factories import action, form_create, tree_create

pytestmark = [pytest.mark.browser]

FOCUSED = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return {node: null, name: "", body: true};
  const node = element.closest(".node");
  return {node: node ? node.id : null, body: false,
          name: (element.getAttribute("aria-label") || element.textContent || "").trim()};
}"""


def focused(page: Page) -> dict:
    return page.evaluate(FOCUSED)


def tab_to(page: Page, name: str, *, back: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until the focused control's name matches `name` (a regex)."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        now = focused(page)
        seen.append(now["name"])
        if re.search(name, now["name"]):
            return
    raise AssertionError(f"no control named {name!r} within {limit} presses: {seen}")


def focus_settles_on(page: Page, node: Node, name: str = "") -> None:
    """Wait until focus is on (or in) `node`'s item on the page, on a control whose name matches
    `name`; then check it is not the page's body. Waits first for htmx to have swapped in the
    answer to the last request (until then focus is still on the control that sent it)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    page.wait_for_function(
        """([id, name]) => {
          const element = document.activeElement;
          if (!element || element === document.body) return false;
          const node = element.closest(".node");
          const words = (element.getAttribute("aria-label") || element.textContent || "").trim();
          return node && node.id === id && new RegExp(name).test(words);
        }""",
        arg=[f"node-{node.pk}", name],
    )
    assert not focused(page)["body"]


def test_add_edit_move_and_delete_a_node_with_the_keyboard_only(staff_page: Page, live_server):
    form = form_create("keys", fields=[{"name": "name", "required": True}, {"name": "email", "type": "email"},
                                       {"name": "greeting", "internal": True}])
    tree = tree_create(form, [action("log", message="first"), action("log", message="second")])
    first, second = Node.objects.filter(tree=tree).order_by("position")
    page = staff_page
    page.goto(f"{live_server.url}/builder/trees/{tree.pk}/")
    expect(page.locator(".node-card .node-tools button").first).to_be_attached()  # editor.js is in

    # Add: "+ after" on the second node opens the menu, focus on its first choice; pick Set field.
    tab_to(page, "^Add a node after “log 'second'”$")
    page.keyboard.press("Enter")
    expect(page.locator(f"#card-{second.pk} .add-menu")).to_be_visible()
    focus_settles_on(page, second)
    assert page.evaluate("document.activeElement.closest('.add-menu') !== null")
    tab_to(page, "Set field")
    with page.expect_response(re.compile(r"/nodes/add/$")):
        page.keyboard.press("Enter")
    added = Node.objects.get(tree=tree, action="set_field")
    focus_settles_on(page, added, "^$")  # the first field of its edit form (its label, still empty)
    assert page.evaluate("document.activeElement.id") == f"n{added.pk}-label"

    # Edit: type a label, pick the field by typing its name, type the value; the preview follows.
    page.keyboard.type("Greet")
    tab_to(page, "")  # the field picker
    assert page.evaluate("document.activeElement.tagName") == "SELECT"
    page.keyboard.type("greeting")
    tab_to(page, "")  # the value
    page.keyboard.type("Hello {{ record.name }}")
    expect(page.locator(f"#card-{added.pk} .template-preview")).to_contain_text("Hello Sample name")
    tab_to(page, "^Save “")
    with page.expect_response(re.compile(rf"/nodes/{added.pk}/$")):
        page.keyboard.press("Enter")
    focus_settles_on(page, added, "^Edit “Greet”$")
    added.refresh_from_db()
    assert (added.label, added.config) == ("Greet", {"field": "greeting", "value": "Hello {{ record.name }}"})

    # Move: up, above "second"; focus stays on the button pressed, so a second press goes on.
    tab_to(page, "^Move “Greet” up$")
    with page.expect_response(re.compile(r"/move/$")):
        page.keyboard.press("Enter")
    focus_settles_on(page, added, "^Move “Greet” up$")
    assert list(Node.objects.filter(tree=tree).order_by("position").values_list("pk", flat=True)) == [
        first.pk, added.pk, second.pk]
    expect(page.locator(".root-list > .node")).to_have_count(3)
    expect(page.locator(".root-list > .node").nth(1)).to_have_id(f"node-{added.pk}")

    # Delete: ✕ asks in the card, focus on "Keep it"; Shift+Tab to "Yes, delete" and Enter.
    tab_to(page, "^Delete “Greet”$")
    page.keyboard.press("Enter")
    focus_settles_on(page, added, "^Keep it$")
    expect(page.get_by_role("group", name="Delete “Greet”?")).to_be_visible()
    page.keyboard.press("Escape")  # Escape keeps it
    focus_settles_on(page, added, "^Delete “Greet”$")
    page.keyboard.press("Enter")
    focus_settles_on(page, added, "^Keep it$")
    tab_to(page, "^Yes, delete “Greet”$", back=True)
    with page.expect_response(re.compile(r"/delete/$")):
        page.keyboard.press("Enter")
    expect(page.locator(f"#node-{added.pk}")).to_have_count(0)
    focus_settles_on(page, first, "^Edit “log 'first'”$")  # the node above the one deleted
    assert not Node.objects.filter(pk=added.pk).exists()
    assert list(Node.objects.filter(tree=tree).order_by("position")) == [first, second]
