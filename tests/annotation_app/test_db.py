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
