"""axe-core in Chromium on the pages people use: the public form, the post-submission page, the
builder's forms list, the tree editor (with a node's edit form and an add menu open) and a run's
page. None may have a violation of impact serious or critical.

axe-core comes from npm through the Makefile's set-up (build/axe/axe.min.js); it is injected
into each page by Playwright and never served by the app."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from eventtree.models import EventTree, Node, Run
from tests.factories import REFERENCE_FIELDS, action, form_create, reference_tree_nodes, tree_create

pytestmark = [pytest.mark.browser]

AXE = Path(__file__).resolve().parents[2] / "build" / "axe" / "axe.min.js"
SERIOUS = ("serious", "critical")


def violations(page: Page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make setup` installs axe-core from npm")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        {"id": item["id"], "impact": item["impact"], "help": item["help"],
         "nodes": [{"target": node["target"], "summary": node["failureSummary"]} for node in item["nodes"]]}
        for item in found if item["impact"] in SERIOUS
    ]


def assert_accessible(page: Page, where: str) -> None:
    found = violations(page)
    assert not found, f"axe-core on {where} ({page.url}):\n{json.dumps(found, indent=1)}"


@pytest.fixture
def membership_submitted(page: Page, live_server) -> Page:
    """The membership form with its reference tree, submitted once by a visitor: the page is on
    the post-submission page (no worker runs: its block stays pending)."""
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application",
                       success_message="Thank you, {{ record.name }}!")
    tree_create(form, reference_tree_nodes())
    page.goto(f"{live_server.url}/f/membership/")
    assert_accessible(page, "the public form")
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(r"/f/membership/submitted/[\w-]+/$"))
    return page


def test_the_public_form_and_its_post_submission_page(membership_submitted: Page):
    page = membership_submitted
    expect(page.locator("#status")).to_contain_text("Processing")
    assert_accessible(page, "the post-submission page")


def test_the_public_form_with_errors(page: Page, live_server):
    form_create("contact", fields=[{"name": "name", "required": True},
                                   {"name": "email", "type": "email", "required": True}])
    page.goto(f"{live_server.url}/f/contact/")
    page.get_by_label("Email").fill("not an email")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    assert_accessible(page, "the public form showing its errors")


def test_the_builder_forms_list_the_tree_editor_and_a_run_page(membership_submitted: Page, staff_page: Page,
                                                                 live_server):
    page = staff_page  # the same browser page, now logged in as a builder
    assert_accessible(page, "the forms list")

    tree = EventTree.objects.get()
    Node.objects.filter(tree=tree, kind="action", config__field="field_d").update(config={"field": "gone", "value": ""})
    page.goto(f"{live_server.url}/builder/trees/{tree.pk}/")
    expect(page.locator(".node-card")).to_have_count(6)
    assert_accessible(page, "the tree editor")

    page.locator(".node-card", has_text="field_a").get_by_role("link", name=re.compile("^Edit")).click()
    expect(page.locator("form.node-edit")).to_be_visible()
    page.locator(".node-card", has_text="Slow part").get_by_role("button", name=re.compile("^Add a node after")).click()
    expect(page.locator(".add-menu")).to_be_visible()
    assert_accessible(page, "the tree editor with an edit form and an add menu open")

    page.goto(f"{live_server.url}/builder/runs/{Run.objects.get().pk}/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page, "a run's page")


def test_a_tree_with_every_kind_and_a_failed_test_run(staff_page: Page, live_server):
    form = form_create("kinds", fields=[{"name": "name"}, {"name": "when", "type": "date"},
                                        {"name": "status", "type": "choice", "choices": ["Open", "Won"]}])
    tree = tree_create(form, [
        action("fail", children=[action("log", message="it failed")], message="No"),
        {"kind": "delay", "field": "when", "offset_seconds": -86400, "children": [action("log", message="later")]},
        {"kind": "condition", "field": "status", "op": "eq", "value": "Won", "children": []},
    ], publish=False)
    page = staff_page
    page.goto(f"{live_server.url}/builder/trees/{tree.pk}/")
    # Each card by its kind's badge: an open edit form's help text may name other kinds.
    for opened, kind in enumerate(('action:has-text("Fail")', "delay", "condition"), start=1):
        page.locator(f".node-card:has(> .node-row .kind-{kind})").first.get_by_role(
            "link", name=re.compile("^Edit")).click()
        expect(page.locator("form.node-edit")).to_have_count(opened)  # open before the next click
    page.get_by_role("link", name="Set up a test run").click()
    with page.expect_response(re.compile(r"/test/$")):
        page.get_by_role("button", name="Run test").click()
    expect(page.locator(".test-summary")).to_be_visible()
    assert_accessible(page, "the tree editor of every kind, after a test run")
