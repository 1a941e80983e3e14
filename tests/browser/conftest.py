from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's Chromium: Playwright cannot download its own browser here.
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def page(page):
    page.set_default_timeout(15_000)
    # EVENTTREE_TEST_CPU_SLOWDOWN=4 runs the page's scripts four times slower, as on a loaded CI
    # machine: races between a test and the page's swaps show up here first.
    slowdown = os.environ.get("EVENTTREE_TEST_CPU_SLOWDOWN")
    if slowdown:
        page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": float(slowdown)})
    return page


@pytest.fixture
def staff_page(page, live_server):
    """A Chromium page logged in, through the admin's login page, as a staff member who may do
    everything in the builder (forms, trees, records and blocks)."""
    from tests.views.staff import BUILDER_PERMISSIONS, staff_create

    staff_create("builder", *BUILDER_PERMISSIONS, password="builder-pw")
    page.goto(f"{live_server.url}/admin/login/?next=/builder/")
    page.get_by_label("Username").fill("builder")
    page.get_by_label("Password").fill("builder-pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/builder/")
    return page
