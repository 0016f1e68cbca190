"""Login throttling without lockouts: growing delays per (username, client), Retry-After that is
true, X-Forwarded-For believed only from configured proxies."""

from __future__ import annotations

import time

from tests.annotation_app.conftest import PASSWORD, make_appctx

WRONG = "not-the-password"


def _login(c, user, password, xff=None):
    headers = {"X-Forwarded-For": xff} if xff else {}
    return c.post("/api/auth/login", json={"username": user, "password": password}, headers=headers)


def test_failures_delay_only_that_user_from_that_client(dbctx):
    c = dbctx.client()
    for _ in range(8):
        r = _login(c, "reviewer", WRONG)
        assert r.status_code in (401, 429)
    r = _login(c, "reviewer", PASSWORD)
    assert r.status_code == 429 and "try again in" in r.json()["detail"]
    # the same client logs in as other users at once: failures for one name lock nobody else out
    for user in ("admin", "annotator"):
        assert _login(c, user, PASSWORD).status_code == 200


def test_retry_after_is_true_and_the_correct_password_then_works(tmp_path):
    ctx = make_appctx(tmp_path, login_free_failures=2, login_delay_s=0.5, login_max_delay_s=1.0)
    c = ctx.client()
    for _ in range(3):
        assert _login(c, "admin", WRONG).status_code == 401
    r = _login(c, "admin", PASSWORD)
    assert r.status_code == 429
    wait = int(r.headers["retry-after"])
    assert 1 <= wait <= 2, wait  # 0.5 s delay, rounded up: not a 15-minute lockout
    time.sleep(wait)
    assert _login(c, "admin", PASSWORD).status_code == 200
    # the delay grows with each further failure but stays capped at login_max_delay_s
    for _ in range(12):
        _login(c, "admin", WRONG)
        time.sleep(0.05)
    r = _login(c, "admin", PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) <= 1
    time.sleep(1.05)
    assert _login(c, "admin", PASSWORD).status_code == 200


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(appctx_factory):
    trusting = appctx_factory(trusted_proxies="testclient")
    c = trusting.client()
    for _ in range(10):
        _login(c, "admin", WRONG, xff="203.0.113.7")  # an attacker behind the proxy
    assert _login(c, "admin", PASSWORD, xff="203.0.113.7").status_code == 429
    assert _login(c, "admin", PASSWORD, xff="198.51.100.2").status_code == 200  # the real admin elsewhere
    # without the setting a spoofed header changes nothing: the peer address is the client
    plain = appctx_factory()
    c = plain.client()
    for i in range(10):
        _login(c, "admin", WRONG, xff=f"203.0.113.{i}")
    assert _login(c, "admin", PASSWORD, xff="198.51.100.2").status_code == 429


def test_many_failures_behind_one_address_do_not_block_correct_passwords(dbctx):
    c = dbctx.client()
    for i in range(21):  # a NAT'd office: many people mistype, or one guesser tries many names
        _login(c, f"someone{i}", WRONG)
    for user in ("admin", "reviewer", "annotator"):
        assert _login(c, user, PASSWORD).status_code == 200
