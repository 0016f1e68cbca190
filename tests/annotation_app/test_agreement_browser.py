"""The quality page shows the agreement between annotators (Chromium): the campaign summary and one
row per annotator, with the numbers of the hand-computed three-annotator case."""

from __future__ import annotations

import shutil

import pytest

from annotation_app.speech import testing as T
from tests.annotation_app.artifacts import ARTIFACTS
from tests.annotation_app.conftest import PASSWORD
from tests.annotation_app.test_agreement_api import _three_annotators_answer


@pytest.mark.browser
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")
def test_quality_page_shows_the_agreement_summary_and_per_annotator_table(appctx):
    from playwright.sync_api import sync_playwright

    _three_annotators_answer(appctx)
    server = T.Server(appctx.app)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.CHROMIUM_ARGS)
            ctx = b.new_context(bypass_csp=True, viewport={"width": 1400, "height": 900})
            assert ctx.request.post(f"{server.url}/api/auth/login", data={"username": "reviewer", "password": PASSWORD}).ok
            page = ctx.new_page()
            page.goto(f"{server.url}/campaigns/{appctx.campaign_id}/quality")
            page.wait_for_function("document.body.dataset.agreementReady === '1'")
            assert "2 items with two or more annotators, 6 pairs compared" in page.locator("#agreement-counts").inner_text()
            assert page.locator("#agreement-note").is_hidden()
            assert page.locator("#agreement-summary tr[data-key=point_f1] td.value").inner_text() == "0.313"
            assert page.locator("#agreement-summary tr[data-key=count_exact] td.value").inner_text() == "0.222"
            headers = page.locator("#agreement thead th").all_inner_texts()
            assert headers[:4] == ["Annotator", "Items shared", "Pairs", "Point F1"]
            rows = page.locator("#agreement tbody tr")
            assert rows.count() == 3
            ann3 = page.locator("#agreement tbody tr", has_text="ann3")
            assert ann3.locator("td[data-key=point_f1]").inner_text() == "0.222"
            assert ann3.locator("td[data-key=not_present_agreement]").inner_text() == "0.333"
            assert ann3.locator("td").nth(1).inner_text() == "2" and ann3.locator("td").nth(2).inner_text() == "4"
            page.screenshot(path=str(ARTIFACTS / "quality_agreement.png"), full_page=True)
            b.close()
    finally:
        server.stop()
