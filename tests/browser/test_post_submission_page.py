"""A visitor in Chromium submits the membership form and watches the page finish."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from eventtree.models import Record
from tests.factories import REFERENCE_FIELDS, action, form_create, reference_tree_nodes, tree_create

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_visitor_sees_processing_then_done_without_a_reload(page: Page, live_server, qcluster):
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application",
                       success_message="Thank you, {{ record.name }}! Reference {{ record.field_a }}.")
    tree_create(form, reference_tree_nodes())

    page.goto(f"{live_server.url}/f/membership/")
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Submit").click()

    expect(page).to_have_url(re.compile(r"/f/membership/submitted/[\w-]+/$"))
    expect(page.get_by_text("Thank you, Ada Lovelace! Reference A:Ada Lovelace.")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    status = page.locator("#status")
    expect(status).to_have_attribute("data-status", "running")
    expect(status).to_contain_text("Processing")

    expect(status).to_have_attribute("data-status", "done", timeout=60_000)
    expect(status).to_contain_text("Everything has been processed")
    expect(page.locator(".block-done")).to_contain_text("Slow part")
    assert page.evaluate("window.stillTheSamePage") is True  # updated in place, not reloaded
    values = Record.objects.get().values
    assert (values["field_b"], values["field_c"]) == ("B", "C")


def test_invalid_input_and_a_refused_submit_keep_what_the_visitor_typed(page: Page, live_server):
    form = form_create("full", fields=[{"name": "name", "required": True},
                                       {"name": "email", "type": "email", "required": True}])
    tree_create(form, [action("fail", message="Sorry {{ record.name }}, the course is full.")])

    page.goto(f"{live_server.url}/f/full/")
    page.get_by_label("Name").fill("Bob")
    page.get_by_label("Email").fill("not an email")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()

    page.get_by_label("Email").fill("bob@example.com")
    page.get_by_role("button", name="Submit").click()

    expect(page.get_by_role("alert")).to_contain_text("Sorry Bob, the course is full.")
    expect(page.get_by_label("Name")).to_have_value("Bob")
    assert Record.objects.count() == 0
