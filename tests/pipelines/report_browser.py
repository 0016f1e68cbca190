"""Open an HTML report in Chromium (Playwright) and report what loaded."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

CHECK_JS = """() => Array.from(document.images).map(i => ({
    alt: i.alt, cls: i.className, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight}))"""


def open_report(html: Path, screenshot: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium")
    if exe is None:
        raise RuntimeError("chromium is not on PATH (make setup installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(html.resolve().as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate(CHECK_JS)
            data = page.evaluate("() => JSON.parse(document.getElementById('report-data').textContent)")
            page.screenshot(path=str(screenshot), full_page=False)
        finally:
            browser.close()
    return {"images": images, "data": data}
