"""Hot-path SQL on the raw DB-API cursor of a SQLAlchemy connection (inside its transaction).

SQLAlchemy's per-statement overhead (~70 us) dominates a claim or submit that runs a handful
of indexed statements, so those paths use fixed SQL strings written with ``:name`` parameters,
converted once to the driver's style (sqlite3 takes ``:name``; psycopg 3 and psycopg2 take ``%(name)s``).
JSON columns come back as ``str`` on SQLite and decoded on PostgreSQL; ``jload`` handles both.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Connection

_PARAM = re.compile(r"(?<!:):([A-Za-z_]\w*)")


class Q:
    """A SQL statement with ``:name`` parameters, usable on SQLite and PostgreSQL."""

    __slots__ = ("sqlite", "pg")

    def __init__(self, sql: str):
        self.sqlite = sql
        self.pg = _PARAM.sub(r"%(\1)s", sql)


class Raw:
    """A pooled DB-API connection used without SQLAlchemy's Connection (see ``raw_tx``)."""

    __slots__ = ("dbapi", "sqlite")

    def __init__(self, dbapi: Any, sqlite: bool):
        self.dbapi, self.sqlite = dbapi, sqlite


def is_sqlite(conn: Connection | Raw) -> bool:
    return conn.sqlite if isinstance(conn, Raw) else conn.dialect.name == "sqlite"


def cursor(conn: Connection | Raw, q: Q, params: dict[str, Any] | None = None) -> Any:
    if isinstance(conn, Raw):
        dbapi, lite = conn.dbapi, conn.sqlite
    else:
        dbapi, lite = conn.connection.dbapi_connection, conn.dialect.name == "sqlite"
    cur = dbapi.cursor()
    if lite:
        cur.execute(q.sqlite, params or {})
    elif _is_psycopg3(cur):  # prepared on the server at first use: later calls skip parsing and planning
        cur.execute(q.pg, params or {}, prepare=True)
    else:
        cur.execute(q.pg, params or {})
    return cur


def _is_psycopg3(cur: Any) -> bool:
    return type(cur).__module__.split(".")[0] == "psycopg"


def first(conn: Connection | Raw, q: Q, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
    cur = cursor(conn, q, params)
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def rows(conn: Connection | Raw, q: Q, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    cur = cursor(conn, q, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def scalar(conn: Connection | Raw, q: Q, params: dict[str, Any] | None = None) -> Any:
    row = cursor(conn, q, params).fetchone()
    return None if row is None else row[0]


def execute(conn: Connection | Raw, q: Q, params: dict[str, Any] | None = None) -> int:
    """Run a write; returns the number of rows changed."""
    return cursor(conn, q, params).rowcount


def jload(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str | bytes) else v
