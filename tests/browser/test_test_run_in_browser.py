"""A test run in Chromium (DESIGN §3.9): the demo's reference tree, run from its editor on sample
values, every node marked in place, and nothing kept."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core import mail
from django.core.management import call_command
from playwright.sync_api import Page, expect

from eventtree.models import EventTree, Record

pytestmark = [pytest.mark.browser]

# Where to keep a screenshot of the marked tree, for a person to look at (unset: none is kept).
SCREENSHOT_DIR = os.environ.get("EVENTTREE_TEST_SCREENSHOTS")


def everything() -> dict[str, Any]:
    models = [*apps.get_app_config("eventtree").get_models(), *apps.get_app_config("django_q").get_models()]
    return {"rows": {model._meta.db_table: list(model.objects.order_by("pk").values()) for model in models},
            "mail": len(mail.outbox)}


def mark(page: Page, node_text: str):
    """The test mark right under the node whose row shows `node_text`."""
    item = page.locator("li.node", has=page.locator(":scope > .node-card > .node-row", has_text=node_text)).first
    return item.locator(":scope > .node-card > .test-step")


def test_run_the_reference_tree_on_sample_values_and_see_every_node_marked(staff_page: Page, live_server):
    call_command("loaddemo", stdout=io.StringIO())
    tree = EventTree.objects.get(form__slug="membership", name="On submit")
    Record.objects.create(form=tree.form, values={"name": "Ann Existing", "email": "ann@example.com"})
    page = staff_page
    page.goto(f"{live_server.url}/builder/trees/{tree.pk}/")

    panel = page.locator("#test-run")
    with page.expect_response(re.compile(r"/test/$")):
        panel.get_by_role("link", name="Set up a test run").click()
    expect(panel.get_by_label("Record")).to_have_value("")
    panel.get_by_label("Your name").fill("Grace <Hopper>")
    panel.get_by_label("Email address").fill("grace@example.com")
    before = everything()
    with page.expect_response(re.compile(r"/test/$")):
        panel.get_by_role("button", name="Run test").click()

    expect(page.locator("#test-run .test-summary")).to_contain_text("Everything would run.")
    expect(page.locator(".test-step")).to_have_count(6)
    expect(mark(page, "field_a")).to_contain_text("ran")
    expect(mark(page, "field_a")).to_contain_text("field_a = 'A:Grace <Hopper>'")
    expect(mark(page, "Membership checks")).to_contain_text("deferred")
    expect(mark(page, "Membership checks")).to_contain_text("would run in a worker right after the submit")
    expect(mark(page, "field_b")).to_contain_text("in background")
    expect(mark(page, "field_d")).to_contain_text("before redirect")
    email = mark(page, "email")
    expect(email).to_contain_text("would send an email to grace@example.com")
    expect(email.locator(".test-email")).to_contain_text("Welcome, Grace <Hopper>")
    page.locator("#test-run summary", has_text="Record values after the run").click()
    expect(page.locator("#test-run .test-values")).to_contain_text("A:Grace <Hopper>")
    if SCREENSHOT_DIR:
        page.screenshot(path=Path(SCREENSHOT_DIR) / "test-run.png", full_page=True)
    assert everything() == before

    # The command line prints the same trace: as many steps as marks, each step's output in one.
    out = io.StringIO()
    call_command("test_tree", "membership", "--values",
                 json.dumps({"name": "Grace <Hopper>", "email": "grace@example.com"}), stdout=out)
    steps = json.loads(out.getvalue())["steps"]
    marks = page.locator(".test-step")
    expect(marks).to_have_count(len(steps))
    on_page = sorted(marks.all_inner_texts())
    for step in steps:
        assert any(step["output"] in text for text in on_page), (step, on_page)
    assert everything() == before

    # The tree still edits as before: an edit clears the marks, which belonged to the old draft.
    with page.expect_response(re.compile(r"/move/$")):
        page.locator("li.node", has_text="field_d").first.get_by_role("button", name=re.compile("^Move “.*” up$")).first.click()
    expect(page.locator(".test-step")).to_have_count(0)


def test_without_javascript_a_failing_block_and_a_refusal_are_shown_in_place(staff_page: Page, live_server, browser):
    call_command("loaddemo", stdout=io.StringIO())
    tree = EventTree.objects.get(form__slug="membership", name="On submit")
    checks = tree.nodes.get(kind="background")
    tree.nodes.filter(parent=checks, position=1).update(action="fail", config={"message": "No C today"})
    context = browser.new_context(java_script_enabled=False, storage_state=staff_page.context.storage_state())
    page = context.new_page()
    page.goto(f"{live_server.url}/builder/trees/{tree.pk}/")

    page.get_by_role("link", name="Set up a test run").click()
    page.wait_for_url(re.compile(r"/test/$"))
    page.get_by_label("Your name").fill("Ada")
    page.get_by_label("Email address").fill("ada@example.com")
    before = everything()
    page.get_by_role("button", name="Run test").click()

    expect(page.locator(".test-summary")).to_contain_text(
        "A background block would fail: Membership checks: No C today. A real run tries it 3 times")
    expect(mark(page, "No C today")).to_contain_text("failed")
    expect(mark(page, "field_b")).to_contain_text("ran")
    expect(mark(page, "email")).to_contain_text("not reached")
    expect(mark(page, "field_d")).to_contain_text("ran")
    if SCREENSHOT_DIR:
        page.screenshot(path=Path(SCREENSHOT_DIR) / "test-run-failed.png", full_page=True)
    assert everything() == before
    context.close()
