"""The login page in Chromium: a mistyped password shows its message on the login page (no
redirect loop) and the correct one then logs in; ``next`` only ever leads to a same-origin path."""

from __future__ import annotations

import shutil

import pytest

from annotation_app.speech import testing as T
from tests.annotation_app.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")]


@pytest.fixture
def site(appctx):
    server = T.Server(appctx.app)
    yield appctx, server.url
    server.stop()


def _submit(page, user, password):
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login")


def test_login_typo_then_correct_password_and_only_same_origin_next(site):
    from playwright.sync_api import sync_playwright

    ctx, url = site
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=T.CHROMIUM_ARGS)
        page = b.new_context(bypass_csp=True).new_page()
        page.goto(f"{url}/login?next=/%5Cexample.invalid/x")
        _submit(page, "reviewer", "correct-horse-2")  # a typo
        page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
        assert page.locator("#login-error").inner_text() == "Wrong username or password."
        assert page.url == f"{url}/login?next=/%5Cexample.invalid/x"  # no redirect to /login?next=/login
        _submit(page, "reviewer", PASSWORD)
        page.wait_for_url(f"{url}/")  # home, not example.invalid
        assert page.locator("#logout").count() == 1
        for bad in ("//example.invalid/x", "https://example.invalid/", "/%5C%5Cexample.invalid", "javascript:alert(1)",
                    "/\\example.invalid"):
            page2 = b.new_context(bypass_csp=True).new_page()
            page2.goto(f"{url}/login?next={bad}")
            _submit(page2, "admin", PASSWORD)
            page2.wait_for_url(f"{url}/")
        page3 = b.new_context(bypass_csp=True).new_page()
        page3.goto(f"{url}/campaigns/{ctx.campaign_id}/review")  # not logged in: sent to the login page
        page3.wait_for_url(f"{url}/login?next=/campaigns/{ctx.campaign_id}/review")
        _submit(page3, "reviewer", PASSWORD)
        page3.wait_for_url(f"{url}/campaigns/{ctx.campaign_id}/review")
        b.close()
