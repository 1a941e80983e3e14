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


def htmx_settled(page: Page) -> None:
    """No htmx request under way (a template's preview, an add menu): the next click is not
    raced by a swap."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def save(page: Page, editor: Locator) -> None:
    htmx_settled(page)
    with page.expect_response(re.compile(r"/builder/nodes/\d+/$")):
        editor.get_by_role("button", name="Save").click()
    expect(page.locator("form.node-edit")).to_have_count(0)


def set_field(page: Page, opener: Locator, field: str, value: str) -> None:
    editor = add_node(page, opener, "Set field")
    editor.get_by_label("Field").select_option(field)
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
    set_field(page, row(page, "Slow part").get_by_role("button", name=re.compile("^Add a node inside")), "field_b", "B")
    set_field(page, row(page, "set field_b").get_by_role("button", name=re.compile("^Add a node after")), "field_c", "C")
    editor = add_node(page, row(page, "set field_c").get_by_role("button", name=re.compile("^Add a node after")), "Send email")
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
    unconfigured = page.locator(".node-card.is-invalid")
    expect(unconfigured.locator(".problems")).to_contain_text("field")
    expect(page.locator(".publish-bar")).to_contain_text("Live: version 1")
    unconfigured.locator(".node-row").get_by_role("link", name=re.compile("^Edit")).click()
    editor = page.locator("form.node-edit")
    editor.get_by_label("Field").select_option("field_d")
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


# Sortable's fallback mode samples the pointer every 50 ms (its emulated dragover): each move
# waits past a sample, or a slow browser never sees the pointer where the drop should be.
SAMPLE_MS = 70


def drag_start(page: Page, source: Locator) -> dict:
    """Once no htmx request is under way, the node to drag in the middle of the window (a pointer
    near an edge has Sortable scroll the page), and its handle's box."""
    htmx_settled(page)
    source.evaluate("node => node.scrollIntoView({block: 'center'})")
    return source.locator(":scope > .node-card .drag-handle").bounding_box()


def drag(page: Page, source: Locator, target: Locator, *, below: bool = False) -> None:
    """Drag with real mouse moves: Sortable's fallback mode follows them (native DnD would not).
    The drop waits until Sortable has put `source` next to `target`."""
    start = drag_start(page, source)
    box = target.locator(":scope > .node-card > .node-row").bounding_box()
    y = box["y"] + (box["height"] * 0.8 if below else box["height"] * 0.2)
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    steps = 12
    for i in range(1, steps + 1):
        page.mouse.move(start["x"] + 4 + (box["x"] + 60 - start["x"]) * i / steps,
                        start["y"] + (y - start["y"]) * i / steps)
        page.wait_for_timeout(SAMPLE_MS)
    beside = ("([item, other, below]) => (below ? item.previousElementSibling : item.nextElementSibling)"
              " === other")
    page.wait_for_function(beside, arg=[source.element_handle(), target.element_handle(), below])
    with page.expect_response(re.compile(r"/nodes/\d+/move/$")):
        page.mouse.up()


def drag_into(page: Page, source: Locator, owner: Locator) -> None:
    """Drag `source` by its handle, a few pixels at a time, until Sortable has put it into the
    children of `owner`, and drop it there."""
    start = drag_start(page, source)
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    inside = "([item, owner]) => item.parentElement.closest('.node') === owner"
    for step in range(1, 80):
        page.mouse.move(x + min(step, 30), y - 4 * step)
        page.wait_for_timeout(SAMPLE_MS)
        if page.evaluate(inside, [source.element_handle(), owner.element_handle()]):
            break
    with page.expect_response(re.compile(r"/nodes/\d+/move/$")):
        page.mouse.up()


def item(page: Page, text: str) -> Locator:
    """The node (its list item, with its children) whose own row shows `text`."""
    return page.locator(".node", has=page.locator(":scope > .node-card > .node-row", has_text=text)).first


def page_order(page: Page) -> list[str]:
    return page.locator(".root-list > .node > .node-card .summary").all_inner_texts()


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

    drag(page, item(page, "fourth"), item(page, "first"))
    expect(page.locator(".root-list > .node").first).to_contain_text("fourth")
    # Focus goes to the node dropped, on its Edit link.
    expect(item(page, "fourth").get_by_role("link", name="Edit “log 'fourth'”")).to_be_focused()

    with page.expect_response(re.compile(r"/move/$")):
        item(page, "first").locator(":scope > .node-card").get_by_role("button", name=re.compile("^Move “.*” down$")).click()

    expected = ["log 'fourth'", "log 'second'", "log 'first'", "log 'third'"]
    expect(page.locator(".root-list > .node > .node-card .summary")).to_have_text(expected)
    assert db_order(tree) == expected
    # Focus stays on the button pressed, on the node that moved: the next press moves it again.
    expect(item(page, "first").locator(':scope > .node-card [data-op="down"]')).to_be_focused()
    page.reload()
    assert page_order(page) == expected == db_order(tree)

    # Leave and come back with the browser's back button: the page shows the saved order, not a
    # copy from before the edits.
    with page.expect_response(re.compile(r"/move/$")):
        item(page, "third").locator(":scope > .node-card").get_by_role("button", name=re.compile("^Move “.*” up$")).click()
    page.get_by_role("link", name="Moves").first.click()
    expect(page.get_by_role("heading", name="Moves", level=1)).to_be_visible()
    page.go_back()
    moved = ["log 'fourth'", "log 'second'", "log 'third'", "log 'first'"]
    expect(page.locator(".root-list > .node > .node-card .summary")).to_have_text(moved)
    assert db_order(tree) == moved


def test_a_move_changes_only_what_it_changed_and_the_page_matches_a_reload(staff_page: Page, live_server):
    """Moves into and out of a Background: a node takes the phase of where it lands (and so do its
    children), the marks and the publish bar follow, each answer is small, and the page the
    answers built is the page a reload gives."""
    form = form_create("phases")
    tree = tree_create(form, [
        {"kind": "background", "label": "Later", "children": [action("log", message="inside")]},
        {"kind": "condition", "field": "name", "op": "is_set", "label": "Check",
         "children": [action("log", message="under the check")]},
        action("log", message="last"),
    ])
    page = staff_page
    page.goto(f"{live_server.url}/builder/trees/{tree.pk}/")
    answers: list[bytes] = []
    page.on("response", lambda response: answers.append(response.body()) if "/move/" in response.url else None)
    phase = lambda text: item(page, text).locator(":scope > .node-card .phase")  # noqa: E731
    badge = lambda text: item(page, text).locator(":scope > .node-card .change-badge")  # noqa: E731
    tools = lambda text: item(page, text).locator(":scope > .node-card")  # noqa: E731
    expect(page.locator(".publish-bar")).to_contain_text("The draft is the live version.")

    drag_into(page, item(page, "last"), item(page, "Later"))
    expect(item(page, "Later").locator(":scope > .node-list > .node .summary")).to_have_text(["log 'last'", "log 'inside'"])
    expect(phase("last")).to_have_text("in background")
    expect(badge("last")).to_have_text("moved")
    expect(page.locator(".publish-bar")).to_contain_text("Draft differs from version 1: 1 node new or changed.")

    with page.expect_response(re.compile(r"/move/$")):
        tools("last").get_by_role("button", name=re.compile("^Outdent")).click()
    expect(phase("last")).to_have_text("before redirect")
    with page.expect_response(re.compile(r"/move/$")):
        tools("last").get_by_role("button", name=re.compile("^Move “.*” down$")).click()
    expect(page.locator(".root-list > .node > .node-card .summary")).to_have_text(
        [re.compile("Later"), re.compile("Check"), "log 'last'"])
    expect(page.locator(".change-badge")).to_have_count(0)
    expect(page.locator(".publish-bar")).to_contain_text("The draft is the live version.")

    # A container moved into the Background takes its phase with everything under it.
    with page.expect_response(re.compile(r"/move/$")):
        tools("Check").get_by_role("button", name=re.compile("^Indent")).click()
    expect(phase("Check")).to_have_text("in background")
    expect(phase("under the check")).to_have_text("in background")
    with page.expect_response(re.compile(r"/move/$")):
        tools("Check").get_by_role("button", name=re.compile("^Outdent")).click()
    expect(phase("under the check")).to_have_text("before redirect")
    expect(page.locator(".change-badge")).to_have_count(0)

    assert [(n.kind, n.parent_id) for n in tree_load(tree.pk)] == [("background", None), ("condition", None),
                                                                    ("action", None)]
    expect(page.locator("#tree .htmx-settling")).to_have_count(0)  # the last answer is all in
    shown = markup(page.locator("#tree .root-list").inner_html())
    page.reload()
    assert markup(page.locator("#tree .root-list").inner_html()) == shown
    # Five answers made of changes only (the page sent the stamp of the draft it showed).
    assert len(answers) == 5 and all(len(body) < 5_000 and b'<section id="tree"' not in body for body in answers)


def markup(html: str) -> str:
    """Some HTML as the browser holds it, without the whitespace between tags, the highlight of
    the node just changed and what Sortable and htmx leave behind."""
    html = re.sub(r">\s+<", "><", html).replace(' style=""', "").replace(' draggable="false"', "")
    return re.sub(r" (is-flash|htmx-added|htmx-settling)", "", html).strip()


def test_add_menus_close_and_a_delete_asks_first_and_takes_the_subtree(staff_page: Page, live_server):
    form = form_create("deletes")
    tree = tree_create(form, [
        {"kind": "background", "label": "Later", "children": [action("log", message="inside")]},
        action("log", message="last"),
    ])
    page = staff_page
    page.goto(f"{live_server.url}/builder/trees/{tree.pk}/")

    with page.expect_response(re.compile(r"/nodes/add/\?after=\d+$")):
        item(page, "last").locator(":scope > .node-card").get_by_role("button", name=re.compile("^Add a node after")).click()
    expect(page.locator(".add-menu")).to_have_count(1)
    page.locator(".add-menu").get_by_role("link", name="Close").click()
    expect(page.locator(".add-menu")).to_have_count(0)

    later = item(page, "Later").locator(":scope > .node-card")
    later.get_by_role("button", name="Delete “Later”").click()
    question = later.get_by_role("group", name="Delete “Later” and the 1 node inside it?")
    expect(question).to_be_visible()
    question.get_by_role("button", name="Keep it").click()  # nothing asked of the server
    expect(question).to_have_count(0)
    expect(later.get_by_role("button", name="Delete “Later”")).to_be_focused()

    later.get_by_role("button", name="Delete “Later”").click()
    with page.expect_response(re.compile(r"/delete/$")):
        later.get_by_role("button", name="Yes, delete “Later”").click()
    expect(page.locator(".root-list > .node")).to_have_count(1)
    expect(page.locator(".publish-bar")).to_contain_text("2 removed (Later, Log)")
    assert list(Node.objects.filter(tree=tree).values_list("config__message", flat=True)) == ["last"]
