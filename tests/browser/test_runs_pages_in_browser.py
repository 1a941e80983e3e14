"""Staff in Chromium follow runs with a real worker: a failed run on the list and on its page,
the cause fixed and the block retried, a done run replayed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from eventtree.models import Record, Run, RunStatus
from tests.factories import action, form_create, set_field, tree_create
from tests.workers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SCREENSHOTS = os.environ.get("EVENTTREE_SCREENSHOTS")  # a folder to keep the run page's screenshots in


def shipping_form(*, approved: str | None = None):
    """A Background that fails at its only attempt until the order is approved on its record
    (`approved`: the field's default). Its failures are mailed to ops@example.com."""
    form = form_create("order", name="Order", alert_emails=["ops@example.com"], fields=[
        {"name": "name", "required": True},
        {"name": "approved", "internal": True, "default": approved},
        {"name": "shipped", "internal": True},
    ])
    tree_create(form, [
        set_field("shipped", "no"),
        {"kind": "background", "label": "Ship", "children": [
            action("log", message="Shipping for {{ record.name }}"),
            {"kind": "condition", "field": "approved", "op": "ne", "value": "yes",
             "children": [action("fail", message="Not approved: <b>{{ record.name }}</b> waits for staff")]},
            set_field("shipped", "yes"),
        ]},
    ], max_attempts=1, name="Fulfilment")
    return form


def visitor_submits(page: Page, live_server, name: str) -> None:
    page.goto(f"{live_server.url}/f/order/")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(r"/f/order/submitted/[\w-]+/$"))


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def test_a_failed_run_is_seen_fixed_and_retried_until_done(staff_page: Page, live_server, qcluster, browser):
    shipping_form()
    visitor = browser.new_page()
    for name in ("Ada", "Bob"):  # two failures within the alert window
        visitor_submits(visitor, live_server, name)
        expect(visitor.locator("#status")).to_have_attribute("data-status", "failed", timeout=60_000)
    run, other = Run.objects.order_by("pk")
    page = staff_page

    # One alert email for the two failures, to the form's alert address, linking to the first's run page.
    mails = wait_until(qcluster.sent_mail, timeout=30, describe=lambda: qcluster.output()[-3000:])
    assert len(mails) == 1, mails
    assert "To: ops@example.com" in mails[0] and f"Run {run.pk} of Fulfilment (Order) failed" in mails[0]
    link = re.search(r"https?://\S+(/builder/runs/\d+/)", mails[0]).group(1)
    assert link == f"/builder/runs/{run.pk}/"
    page.goto(f"{live_server.url}{link}")
    expect(page.locator("#run-live")).to_have_attribute("data-state", "failed")

    page.locator(".builder-nav").get_by_role("link", name="Runs").click()
    row = page.locator(f'tr[data-run="{run.pk}"]')
    expect(row).to_contain_text("Order")
    expect(row).to_contain_text("Fulfilment")
    expect(row.locator(".badge")).to_have_text("failed")
    expect(row.locator("td").nth(8)).to_have_text("1")  # failed blocks
    screenshot(page, "runs-list")

    row.get_by_role("link", name=f"#{run.pk}", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/builder/runs/{run.pk}/")
    live = page.locator("#run-live")
    expect(live).to_have_attribute("data-state", "failed")
    block = page.locator(".run-block")
    expect(block).to_contain_text("Attempts 1 / 1")
    # The full error, as text: the markup the builder typed is shown, not applied.
    expect(block.locator(".alert-error")).to_contain_text("Not approved: <b>Ada</b> waits for staff")
    steps = block.locator("tr.step")
    expect(steps).to_have_count(3)
    expect(steps.nth(0)).to_contain_text("Shipping for Ada")
    expect(block.locator("tr.step-failed")).to_contain_text("Not approved: <b>Ada</b> waits for staff")
    screenshot(page, "run-failed")

    # The cause is fixed: staff approve the order on its record.
    page.locator(".run-facts").get_by_role("link", name=f"#{run.record_id}", exact=True).click()
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Approved").fill("yes")
    page.get_by_role("button", name="Save").click()
    expect(page.locator('td[data-field="approved"]')).to_have_text("yes")
    page.get_by_role("link", name=f"run #{run.pk}").click()

    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("Block “Ship” queued again.")
    page.evaluate("window.stillTheSamePage = true")
    # The page follows the run by itself until it is done.
    expect(live).to_have_attribute("data-state", "done", timeout=60_000)
    assert page.evaluate("window.stillTheSamePage") is True
    expect(block).to_contain_text("Attempts 2 / 2")
    expect(block.locator("tr.step")).to_have_count(6)  # both attempts are kept
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    screenshot(page, "run-done")
    assert Record.objects.get(pk=run.record_id).values["shipped"] == "yes"
    run.refresh_from_db()
    assert run.status == RunStatus.DONE

    page.goto(f"{live_server.url}/builder/runs/?state=failed")
    expect(page.locator("tr[data-run]")).to_have_count(1)  # Bob's order, not approved
    expect(page.locator(f'tr[data-run="{other.pk}"] .badge')).to_have_text("failed")
    page.goto(f"{live_server.url}/builder/runs/?state=done")
    expect(page.locator(f'tr[data-run="{run.pk}"] .badge')).to_have_text("done")


def test_a_done_run_is_replayed_as_a_new_done_run(staff_page: Page, live_server, qcluster, browser):
    form = shipping_form(approved="yes")
    visitor = browser.new_page()
    visitor_submits(visitor, live_server, "Grace")
    expect(visitor.locator("#status")).to_have_attribute("data-status", "done", timeout=60_000)
    run = Run.objects.get()
    record = Record.objects.get(form=form)
    Record.objects.filter(pk=record.pk).update(values={**record.values, "name": "Grace Hopper", "shipped": "no"})
    page = staff_page

    page.goto(f"{live_server.url}/builder/runs/{run.pk}/")
    expect(page.locator("#run-live")).to_have_attribute("data-state", "done")
    page.get_by_role("button", name="Replay this run").click()

    expect(page.get_by_role("status")).to_contain_text(f"Replay of run {run.pk}")
    replay = Run.objects.exclude(pk=run.pk).get()
    expect(page).to_have_url(f"{live_server.url}/builder/runs/{replay.pk}/")
    expect(page.locator("#run-live")).to_have_attribute("data-state", "done", timeout=60_000)
    # The record as it is now: the new run's steps read the new name.
    expect(page.locator(".run-block tr.step").first).to_contain_text("Shipping for Grace Hopper")
    screenshot(page, "run-replayed")
    replay.refresh_from_db()
    assert (replay.version_id, replay.status) == (run.version_id, RunStatus.DONE)
    assert Record.objects.get().values["shipped"] == "yes"

    page.locator(".builder-nav").get_by_role("link", name="Runs").click()
    expect(page.locator("tr[data-run] .badge")).to_have_text(["done", "done"])
    expect(page.locator("tr[data-run]").first).to_have_attribute("data-run", str(replay.pk))  # newest first


def test_a_node_in_the_editor_opens_its_last_outcomes(staff_page: Page, live_server, qcluster, browser):
    form = shipping_form()
    visitor = browser.new_page()
    visitor_submits(visitor, live_server, "Ada")
    expect(visitor.locator("#status")).to_have_attribute("data-status", "failed", timeout=60_000)
    run = Run.objects.get()
    page = staff_page

    page.goto(f"{live_server.url}/builder/trees/{form.trees.get().pk}/")
    card = page.locator(".node-card").filter(has_text="Shipping for")
    runs = card.locator('[data-op="runs"]')
    expect(runs).to_have_attribute("aria-label", re.compile(r"^Last runs of “.*Shipping for"))
    runs.click()
    outcomes = card.locator(".node-outcomes")
    expect(outcomes).to_contain_text("Shipping for Ada")
    expect(outcomes.get_by_role("link", name=f"#{run.pk}")).to_have_attribute("href", f"/builder/runs/{run.pk}/")
    expect(runs).to_have_attribute("aria-expanded", "true")
    failing = page.locator(".node-card").filter(has_text="Not approved").first
    failing.locator('[data-op="runs"]').click()
    expect(failing.locator(".node-outcomes")).to_contain_text("Not approved: <b>Ada</b> waits for staff")
    screenshot(page, "node-runs")

    runs.click()
    expect(outcomes).to_have_count(0)
    expect(runs).to_have_attribute("aria-expanded", "false")
