"""The holes of issue 8, tried over HTTP in Chromium against the live app: stored script,
permissions, and a stale record edit."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from eventtree.models import Block, Record
from eventtree.services.records import record_submit
from tests.factories import REFERENCE_FIELDS, action, form_create, reference_tree_nodes, tree_create
from tests.views.staff import staff_create

pytestmark = [pytest.mark.browser]

PAYLOAD = "<img src=x onerror=\"document.title='pwned'\">"


def log_in(browser: Browser, live_server, username: str) -> Page:
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def no_script_ran(page: Page) -> None:
    assert page.title() != "pwned"
    expect(page.locator("img[src='x']")).to_have_count(0)


def test_builder_text_never_runs_as_script(staff_page: Page, live_server):
    form = form_create("hostile", fields=[
        {"name": "name", "label": f"Name {PAYLOAD}", "help_text": f"Help {PAYLOAD}"},
        {"name": "note", "internal": True, "help_text": f"Internal {PAYLOAD}"},
    ], success_message=f"Thanks {{{{ record.name }}}} {PAYLOAD}")
    tree_create(form, [{"kind": "background", "label": f"Block {PAYLOAD}", "children": [action("log", message="x")]}])
    record = Record.objects.create(form=form, values={"name": PAYLOAD})
    dialogs = []
    staff_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    staff_page.goto(f"{live_server.url}/builder/records/{record.pk}/edit/")
    expect(staff_page.get_by_text(f"Internal {PAYLOAD}")).to_be_visible()  # shown as text
    no_script_ran(staff_page)
    staff_page.goto(f"{live_server.url}/builder/records/{record.pk}/")
    no_script_ran(staff_page)

    visitor = staff_page.context.browser.new_context().new_page()
    visitor.goto(f"{live_server.url}/f/hostile/")
    expect(visitor.get_by_text(f"Help {PAYLOAD}")).to_be_visible()
    visitor.get_by_label(re.compile("^Name")).fill("<b>Ada</b>")
    visitor.get_by_role("button", name="Submit").click()
    expect(visitor).to_have_url(re.compile(r"/f/hostile/submitted/[\w-]+/$"))
    expect(visitor.get_by_text(f"Thanks <b>Ada</b> {PAYLOAD}")).to_be_visible()
    no_script_ran(visitor)
    assert dialogs == []


@pytest.fixture
def membership_record():
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application")
    tree_create(form, reference_tree_nodes())
    record, _ = record_submit(form=form, values={"name": "Ada", "email": "ada@example.com"})
    return record


def test_staff_without_permissions_gets_403_over_http(browser: Browser, live_server, membership_record):
    staff_create("nobody")
    page = log_in(browser, live_server, "nobody")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    block = Block.objects.get()
    headers = {"X-CSRFToken": token, "Referer": f"{live_server.url}/builder/"}
    for url in ("/builder/", f"/builder/records/{membership_record.pk}/",
                f"/builder/records/{membership_record.pk}/edit/", "/builder/forms/membership/export/"):
        assert page.request.get(live_server.url + url).status == 403, url
    for url in ("/builder/forms/membership/delete/", f"/builder/blocks/{block.pk}/cancel/",
                f"/builder/records/{membership_record.pk}/edit/"):
        response = page.request.post(live_server.url + url, headers=headers, form={"name": "Mallory"})
        assert response.status == 403 and "CSRF" not in response.text(), url
    page.goto(f"{live_server.url}/builder/")
    expect(page.get_by_text("403")).to_be_visible()
    assert Record.objects.get().values["name"] == "Ada" and Block.objects.get().state == "pending"


def test_a_record_reader_sees_the_record_but_no_edit_link(browser: Browser, live_server, membership_record):
    staff_create("reader", "eventtree.view_record")
    page = log_in(browser, live_server, "reader")
    page.goto(f"{live_server.url}/builder/forms/membership/records/")
    page.get_by_role("link", name=str(membership_record.pk), exact=True).click()
    expect(page.get_by_role("heading", name=f"Record #{membership_record.pk}")).to_be_visible()
    expect(page.locator('td[data-field="name"]')).to_have_text("Ada")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    response = page.goto(f"{live_server.url}/builder/records/{membership_record.pk}/edit/")
    assert response.status == 403


def test_a_stale_edit_page_keeps_what_a_block_wrote(staff_page: Page, live_server, drain_blocks):
    form = form_create("membership", fields=REFERENCE_FIELDS, name="Membership application")
    tree_create(form, reference_tree_nodes())
    record, _ = record_submit(form=form, values={"name": "Ada", "email": "ada@example.com"})
    assert "field_b" not in record.values
    page = staff_page
    page.goto(f"{live_server.url}/builder/records/{record.pk}/edit/")
    expect(page.get_by_label("Field b")).to_have_value("")

    drain_blocks()  # the background block runs while the page is open
    assert Record.objects.get().values["field_b"] == "B"

    page.get_by_label("Name").fill("Ada Lovelace")
    with page.expect_response(re.compile(r"/edit/$")):
        page.get_by_role("button", name="Save").click()
    expect(page.locator('td[data-field="field_b"]')).to_have_text("B")
    values = Record.objects.get().values
    assert (values["name"], values["field_b"], values["field_c"]) == ("Ada Lovelace", "B", "C")
