"""Take the README's screenshots from a running app (`make run` in another terminal).

    .venv/bin/python scripts/screenshots.py [http://127.0.0.1:8000]

Opens the tree editor as the demo superuser (admin / admin, created by `make run`), submits a demo
form in Chromium and saves PNGs under docs/screenshots/.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ARGS = ["--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def main(base: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        editor = browser.new_page(viewport={"width": 1280, "height": 900})
        editor.goto(f"{base}/admin/login/?next=/builder/")
        editor.get_by_label("Username").fill("admin")
        editor.get_by_label("Password").fill("admin")
        editor.get_by_role("button", name="Log in").click()
        editor.wait_for_url(f"{base}/builder/")
        editor.get_by_role("link", name="Onboarding").first.click()
        editor.get_by_role("link", name="On submit").click()
        expect(editor.locator("#tree")).to_be_visible()
        # A draft change, so that the publish bar and the node's mark show what Publish would do.
        editor.locator(".node-row", has_text="Account set-up").get_by_role("link", name="Edit").click()
        editor.locator("form.node-edit").get_by_label("Label").fill("Account set-up (new plan)")
        editor.locator("form.node-edit").get_by_role("button", name="Save").click()
        expect(editor.locator(".publish-bar")).to_contain_text("Draft differs")
        editor.locator(".node-row", has_text="Account set-up").get_by_role("button", name=re.compile("^Add a node inside")).click()
        expect(editor.locator(".add-menu")).to_be_visible()
        editor.screenshot(path=OUT / "editor.png", full_page=True)
        editor.get_by_role("link", name="Set up a test run").click()
        panel = editor.locator(".test-run")
        panel.get_by_label("Your name").fill("Grace Hopper")
        panel.get_by_label("Email address").fill("grace@example.com")
        panel.get_by_label("Plan").select_option("Pro")
        panel.get_by_role("button", name="Run test").click()
        expect(editor.locator(".test-step").first).to_be_visible()
        editor.screenshot(path=OUT / "test-run.png", full_page=True)

        page = browser.new_page(viewport={"width": 900, "height": 820})
        page.goto(f"{base}/f/onboarding/")
        page.get_by_label("Your name").fill("Grace Hopper")
        page.get_by_label("Email address").fill("grace@example.com")
        page.get_by_label("Plan").select_option("Pro")
        page.screenshot(path=OUT / "form.png", full_page=True)
        page.get_by_role("button", name="Submit").click()
        status = page.locator("#status")
        expect(status).to_have_attribute("data-status", "running")
        page.screenshot(path=OUT / "status-running.png", full_page=True)
        expect(status).to_have_attribute("data-status", "done", timeout=90_000)
        page.screenshot(path=OUT / "status-done.png", full_page=True)
        browser.close()
    print(f"Screenshots in {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
