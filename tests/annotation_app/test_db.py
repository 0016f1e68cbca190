"""Engines: URL normalisation, warm pools, and pooled PostgreSQL connections that the server drops."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from annotation_app import db
from annotation_app.db import make_engine, normalize_url, raw_tx, warm_pool
from annotation_app.sql import Q, scalar


def test_bare_postgres_urls_use_psycopg3_and_explicit_drivers_are_kept():
    assert normalize_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert normalize_url("sqlite:///var/a.db") == "sqlite:///var/a.db"


def _kill_backends(url: str) -> int:
    admin = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with admin.connect() as c:
        n = c.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name}).scalar()
    admin.dispose()
    return int(n or 0)


def test_postgres_pool_survives_a_server_side_disconnect(pg_url, monkeypatch):
    engine = make_engine(pg_url, pool_size=3)
    warm_pool(engine, 3)
    assert engine.pool.checkedin() == 3  # opened up front, back in the pool
    one = Q("SELECT 1")
    assert _kill_backends(pg_url) >= 3
    # a connection that was in use when the server dropped it: the request fails, the connection
    # is discarded (not returned to the pool), and the next transaction works
    with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's OperationalError
        with raw_tx(engine) as conn:
            scalar(conn, one)
    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)  # every pooled connection now counts as idle: pinged first
    for _ in range(4):
        with raw_tx(engine) as conn:
            assert scalar(conn, one) == 1
    _kill_backends(pg_url)
    with raw_tx(engine) as conn:  # the idle ping finds the dead connection and replaces it
        assert scalar(conn, one) == 1
    engine.dispose()


def test_claim_and_submit_survive_a_database_restart(pg_url, tmp_path, server_factory, seeder):
    """Every pooled connection is dropped by the server (as in a restart) between two cycles: asyncpg
    sees idle connections close and its pool reconnects (a connection lost inside a transaction is
    retried once on a renewed pool, ``database._asyncpg_tx``). The threadpool path pings connections
    idle for more than ``IDLE_PING_S``; see the test above."""
    import httpx

    s = seeder(pg_url, str(tmp_path / "media"), items=5, users=1)
    srv = server_factory(pg_url, str(tmp_path / "media")).start()
    headers = {"Authorization": f"Bearer {s.tokens[0]}"}

    def cycle(key: str) -> int:
        r = httpx.post(f"{srv.base}/api/campaigns/{s.campaign_id}/claim", json={}, headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        aid = r.json()["assignment"]["assignment_id"]
        body = {"client_key": key, "payload": {"label": "thing", "points": [{"x": 1, "y": 2}], "not_present": False}}
        r = httpx.post(f"{srv.base}/api/assignments/{aid}/submit", json=body, headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["submission_id"]

    first = cycle("key-before-restart")
    assert _kill_backends(pg_url) >= 1
    assert cycle("key-after-restart") != first
