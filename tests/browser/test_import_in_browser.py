"""Staff import a CSV file in Chromium with a real worker (DESIGN §3.7): the upload on the form's
records page, then the import's page, whose counts grow as chunks finish and which stops polling
once the last one has; the records of finished chunks are on the records page meanwhile."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from eventtree.models import Event, Import, Record, Step
from tests.factories import action, form_create, set_field, tree_create
from tests.integration.deployment import TEST_ACTIONS_APP
from tests.workers import QCluster

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROWS = 300


@pytest.fixture
def slow_cluster(transactional_db, tmp_path):
    """A real cluster that knows the test-only `sleep` action, which holds a chunk open."""
    cluster = QCluster(workdir=tmp_path, env={"EVENTTREE_EXTRA_APPS": TEST_ACTIONS_APP}).start()
    yield cluster
    cluster.stop()


def test_an_uploaded_file_is_followed_on_its_page_until_every_chunk_finished(
        staff_page: Page, live_server, slow_cluster, settings, tmp_path):
    settings.EVENTTREE = {**settings.EVENTTREE, "IMPORT_CHUNK_ROWS": 100}
    form = form_create("people", name="People", fields=[
        {"name": "name", "required": True}, {"name": "email", "type": "email"},
        {"name": "slow", "type": "checkbox"}, {"name": "source", "internal": True}])
    # The last row of each chunk takes 2 s: the chunks finish one by one, seconds apart.
    tree_create(form, [set_field("source", "csv"),
                       {"kind": "condition", "field": "slow", "op": "eq", "value": "true",
                        "children": [action("sleep", seconds=2)]}],
                event=Event.IMPORTED, name="On import")
    rows = [f"Person {n},{'bad address' if n == 42 else f'p{n}@example.com'},{'yes' if n % 100 == 0 else ''}"
            for n in range(1, ROWS + 1)]
    path = tmp_path / "people.csv"
    path.write_text("name,email,slow\n" + "\n".join(rows) + "\n", encoding="utf-8")
    page = staff_page

    page.goto(f"{live_server.url}/builder/forms/people/records/")
    page.get_by_label("Import records from a CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page).to_have_url(re.compile(r"/builder/imports/\d+/$"))
    expect(page.get_by_role("heading", name="Import of people.csv")).to_be_visible()
    progress = page.locator("#import-progress")
    count = page.locator("#import-count")
    # The count grows chunk by chunk without a reload: one or two chunks finished (in any order;
    # one row of the first chunk is refused).
    expect(count).to_have_text(re.compile(r"^(99|100|199|200)$"), timeout=60_000)
    assert Record.objects.count() >= 99  # the finished chunks' records are there

    expect(progress).to_have_attribute("data-state", "done", timeout=60_000)
    expect(count).to_have_text(str(ROWS - 1))
    expect(progress.locator("progress")).to_have_attribute("value", "3")
    expect(progress).to_contain_text("Line 43: email: Enter a valid email address.")
    expect(progress).not_to_have_attribute("hx-get", re.compile("."))  # polling stopped
    bulk_import = Import.objects.get()
    assert (bulk_import.created, bulk_import.refused) == (ROWS - 1, 1)
    assert Step.objects.filter(output="slept 2.0 s").count() == 3  # each chunk was held open

    page.get_by_role("link", name="its records").click()
    expect(page.locator("#results")).to_contain_text(f"{ROWS - 1} records")
