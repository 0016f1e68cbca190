"""Hot-path SQL on the raw DB-API cursor of a SQLAlchemy connection (inside its transaction).

SQLAlchemy's per-statement overhead (~70 us) dominates a claim or submit that runs a handful
of indexed statements, so those paths use fixed SQL strings written with ``:name`` parameters,
converted once to each driver's style (sqlite3 takes ``:name``; psycopg 3 and psycopg2 take
``%(name)s``; asyncpg takes ``$1``). JSON columns come back as ``str`` on SQLite and asyncpg and
decoded on psycopg; ``jload`` handles both.

Claim and submit are written once, as generators of ``Op`` (statement, parameters, what to
return) that receive each result: ``run`` drives them on a DB-API connection (SQLite, psycopg),
``run_async`` on an asyncpg connection on the event loop (PostgreSQL without a thread hop).
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection

_PARAM = re.compile(r"(?<!:):([A-Za-z_]\w*)")


class Q:
    """A SQL statement with ``:name`` parameters, usable on SQLite and PostgreSQL."""

    __slots__ = ("sqlite", "pg", "apg", "names")

    def __init__(self, sql: str):
        self.sqlite = sql
        self.pg = _PARAM.sub(r"%(\1)s", sql)
        self.names: list[str] = []  # asyncpg: $k is the k-th distinct name
        self.apg = _PARAM.sub(self._number, sql)

    def _number(self, m: re.Match[str]) -> str:
        if m.group(1) not in self.names:
            self.names.append(m.group(1))
        return f"${self.names.index(m.group(1)) + 1}"


class Raw:
    """A pooled DB-API connection used without SQLAlchemy's Connection (see ``raw_tx``)."""

    __slots__ = ("dbapi", "sqlite")

    def __init__(self, dbapi: Any, sqlite: bool):
        self.dbapi, self.sqlite = dbapi, sqlite


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


class Op(NamedTuple):
    """One statement of a generator-written transaction; ``kind`` is first | rows | scalar | execute."""

    kind: str
    q: Q
    params: dict[str, Any]


T = TypeVar("T")
Steps = Generator[Op, Any, T]
_SYNC = {"first": first, "rows": rows, "scalar": scalar, "execute": execute}


def run(steps: Steps[T], conn: Connection | Raw) -> T:
    """Drive ``steps`` on a DB-API connection: each Op's result is sent back in."""
    try:
        op = next(steps)
        while True:
            op = steps.send(_SYNC[op.kind](conn, op.q, op.params))
    except StopIteration as stop:
        return stop.value


async def run_async(steps: Steps[T], conn: Any) -> T:
    """Drive ``steps`` on an asyncpg connection (statements are prepared and cached by asyncpg)."""
    try:
        op = next(steps)
        while True:
            op = steps.send(await _run_asyncpg(conn, op))
    except StopIteration as stop:
        return stop.value


async def _run_asyncpg(conn: Any, op: Op) -> Any:
    args = [op.params[n] for n in op.q.names]
    if op.kind == "first":
        r = await conn.fetchrow(op.q.apg, *args)
        return None if r is None else dict(r)
    if op.kind == "rows":
        return [dict(r) for r in await conn.fetch(op.q.apg, *args)]
    if op.kind == "scalar":
        return await conn.fetchval(op.q.apg, *args)
    status = await conn.execute(op.q.apg, *args)  # e.g. "UPDATE 1", "INSERT 0 1"
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0
