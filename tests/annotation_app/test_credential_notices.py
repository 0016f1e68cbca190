"""On PostgreSQL a credential change made anywhere (another worker, the CLI, SQL by hand) reaches
every server process's credential cache at once (annotation_app/credentials.py, migration 0500)."""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import create_engine, text

from annotation_app import credentials
from annotation_app.db import asyncpg_dsn, normalize_url
from annotation_app.deps import CACHE_SECONDS
from tests.annotation_app.conftest import seed


def _sql(url: str, statement: str, **params: object) -> None:
    """A change from outside the server process, as the CLI or another worker makes it."""
    engine = create_engine(normalize_url(url))
    with engine.begin() as c:
        c.execute(text(statement), params)
    engine.dispose()


def _status_within(base: str, path: str, token: str, want: int, seconds: float) -> float | None:
    """Seconds until ``GET path`` answers ``want`` (None if it did not within ``seconds``)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}).status_code == want:
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def _server(pg_url, tmp_path, server_factory):
    s = seed(pg_url, str(tmp_path / "media"), items=2, users=2)
    srv = server_factory(pg_url, str(tmp_path / "media")).start()
    for tok in s.tokens:  # the credentials are now in the server's cache
        assert httpx.get(srv.base + "/api/me", headers={"Authorization": f"Bearer {tok}"}).status_code == 200
    return s, srv


def test_a_token_revoked_outside_the_server_stops_working_at_once(pg_url, tmp_path, server_factory):
    """Revoked by SQL from another process: refused well within the cache's lifetime. (Before,
    the server kept accepting it for up to CACHE_SECONDS.)"""
    s, srv = _server(pg_url, tmp_path, server_factory)
    _sql(pg_url, "UPDATE api_tokens SET revoked_at = :t WHERE user_id = :u", t=time.time(), u=s.user_ids[0])
    took = _status_within(srv.base, "/api/me", s.tokens[0], 401, CACHE_SECONDS * 0.3)
    assert took is not None, f"a revoked token still worked {CACHE_SECONDS * 0.3:.1f} s after it was revoked"
    assert httpx.get(srv.base + "/api/me", headers={"Authorization": f"Bearer {s.tokens[1]}"}).status_code == 200


def test_a_user_deactivated_or_promoted_outside_the_server_is_seen_at_once(pg_url, tmp_path, server_factory):
    s, srv = _server(pg_url, tmp_path, server_factory)
    assert httpx.get(srv.base + "/api/users", headers={"Authorization": f"Bearer {s.tokens[1]}"}).status_code == 403
    _sql(pg_url, "UPDATE users SET role = 'manager' WHERE id = :u", u=s.user_ids[1])
    assert _status_within(srv.base, "/api/users", s.tokens[1], 200, CACHE_SECONDS * 0.3) is not None
    _sql(pg_url, "UPDATE users SET active = false WHERE id = :u", u=s.user_ids[0])
    assert _status_within(srv.base, "/api/me", s.tokens[0], 401, CACHE_SECONDS * 0.3) is not None


def test_the_triggers_send_one_notice_per_changing_statement(pg_url, tmp_path):
    import asyncpg

    s = seed(pg_url, str(tmp_path / "media"), items=1, users=3)
    dsn = asyncpg_dsn(pg_url)

    async def run() -> list[str]:
        got: list[str] = []
        conn = await asyncpg.connect(dsn)
        await conn.add_listener(credentials.CHANNEL, lambda _c, _pid, _ch, payload: got.append(payload))
        _sql(pg_url, "UPDATE users SET role = 'reviewer'")  # one statement, three rows: one notice
        _sql(pg_url, "UPDATE api_tokens SET name = 'renamed'")  # not a credential column: no notice
        _sql(pg_url, "UPDATE web_sessions SET revoked_at = 1")
        _sql(pg_url, "DELETE FROM api_tokens WHERE user_id = :u", u=s.user_ids[2])
        await asyncio.sleep(0.3)
        await conn.close()
        return got

    assert asyncio.run(run()) == ["users", "web_sessions", "api_tokens"]


def test_a_process_without_notices_does_not_cache(pg_url):
    """While the listener cannot connect, cached credentials are not used; once it listens they are."""
    from sqlalchemy.engine import make_url

    from annotation_app.db import migrate

    migrate(pg_url)
    good = asyncpg_dsn(pg_url)
    bad = make_url(good).set(port=1).render_as_string(hide_password=False)

    async def run(dsn: str) -> list[bool]:
        seen = []
        async with credentials.listening(dsn):
            seen.append(credentials.cache_trusted())  # not yet connected
            await asyncio.sleep(1.0)
            seen.append(credentials.cache_trusted())
        seen.append(credentials.cache_trusted())  # no listener any more: a single process again
        return seen

    assert asyncio.run(run(bad)) == [False, False, True]
    assert asyncio.run(run(good)) == [False, True, True]


def test_the_listener_reconnects_after_its_connection_is_killed(pg_url):
    """A database restart (here: the listener's backend terminated): the process stops trusting
    its cache at once and listens again within a few seconds, and notices work again."""
    from annotation_app.db import migrate
    from annotation_app.deps import _CACHE

    migrate(pg_url)
    dsn = asyncpg_dsn(pg_url)

    async def run() -> list[object]:
        seen: list[object] = []
        async with credentials.listening(dsn):
            for _ in range(50):
                if credentials.cache_trusted():
                    break
                await asyncio.sleep(0.1)
            seen.append(credentials.cache_trusted())
            _sql(pg_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :a "
                         "AND datname = current_database()",
                 a=credentials.APPLICATION_NAME)
            await asyncio.sleep(0.2)
            seen.append(credentials.cache_trusted())  # the connection is gone: no caching
            for _ in range(100):
                if credentials.cache_trusted():
                    break
                await asyncio.sleep(0.1)
            seen.append(credentials.cache_trusted())  # listening again
            _CACHE["t:x"] = (1e18, None)  # type: ignore[assignment]
            _sql(pg_url, "UPDATE users SET active = active")
            await asyncio.sleep(0.3)
            seen.append("t:x" in _CACHE)  # the notice emptied the cache
        return seen

    assert asyncio.run(run()) == [True, False, True, False]
