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


# ---------------------------------------------------------------- one definition, both databases

_REF = re.compile(r"\{(\w+)\.(\w+)\}")
_COLUMN, _PARAMETER = r"\1.\2", r":\1__\2"  # a reference on PostgreSQL (in INSERT ... SELECT) and on SQLite


class Step(NamedTuple):
    """One statement of a ``Chain``. ``{step.column}`` is a column that an earlier step returned.

    A SELECT or UPDATE is written in ``sql``; ``lock`` is the row lock PostgreSQL adds to a SELECT
    (``FOR UPDATE SKIP LOCKED``; SQLite needs none: its write transaction holds the database). An
    INSERT is ``table``, ``values`` ((column, expression) pairs) and ``tail`` (``ON CONFLICT ...``,
    ``RETURNING ...``); ``JSON(x)`` as an expression is text stored in a JSON column."""

    name: str
    sql: str = ""
    lock: str = ""
    table: str = ""
    values: tuple[tuple[str, str], ...] = ()
    tail: str = ""

    def refs(self) -> list[tuple[str, str]]:
        return list(dict.fromkeys(_REF.findall(" ".join([self.sql, self.tail, *(e for _, e in self.values)]))))

    @property
    def returns(self) -> bool:
        return self.sql.lstrip().upper().startswith("SELECT") or "RETURNING" in (self.sql + self.tail).upper()

    def render(self, postgres: bool) -> str:
        """The statement in one dialect: on SQLite a reference is the parameter ``:step__column``
        (bound from that step's row); on PostgreSQL it reads that step's CTE."""
        if not self.table:
            text = _REF.sub(r"(SELECT \2 FROM \1)" if postgres else _PARAMETER, self.sql)
            return f"{text} {self.lock}" if postgres and self.lock else text
        cols = ", ".join(c for c, _ in self.values)
        exprs = ", ".join(_json(e, postgres) for _, e in self.values)
        tail = f" {self.tail}" if self.tail else ""
        froms = ", ".join(dict.fromkeys(s for s, _ in self.refs()))
        if postgres and froms:  # INSERT ... SELECT ... FROM the steps it reads: no row there, no insert
            return f"INSERT INTO {self.table} ({cols}) SELECT {_REF.sub(_COLUMN, exprs)} FROM {froms}{tail}"
        return f"INSERT INTO {self.table} ({cols}) VALUES ({_REF.sub(_PARAMETER, exprs)}){tail}"


def _json(expr: str, postgres: bool) -> str:
    """``JSON(x)``: PostgreSQL casts the text to json; SQLite stores the text as it is."""
    if not (expr.startswith("JSON(") and expr.endswith(")")):
        return expr
    return f"CAST({expr[5:-1]} AS json)" if postgres else expr[5:-1]


class Chain:
    """The statements of one transaction step, written once for both databases.

    PostgreSQL runs the chain as one statement (each step a CTE, data-modifying ones included; one
    round trip). SQLite has no data-modifying CTEs, so it runs the steps one after another (its
    write transaction holds the database anyway), binding each step's returned row into the steps
    that refer to it. Either way a step that refers to a step which returned no row does nothing.
    ``out`` (``"step.column [AS name]"``) is the result row: None when the first step named there
    (in chain order) returned no row; columns of a later step that returned none are None (on
    PostgreSQL a LEFT JOIN). A single step without ``out`` returns its own first row."""

    def __init__(self, *steps: Step, out: tuple[str, ...] = ()):
        for i, s in enumerate(steps):
            earlier = {e.name for e in steps[:i] if e.returns}
            bad = [f"{r}.{c}" for r, c in s.refs() if r not in earlier]
            if bad:
                raise ValueError(f"step {s.name!r} refers to {bad}, which no earlier step returns")
        self.steps = steps
        self.out = [_out_column(o) for o in out]
        order = [s.name for s in steps]
        self.anchor = min((st for st, _, _ in self.out), key=order.index) if self.out else ""
        self.lite = [Q(s.render(postgres=False)) for s in steps]
        self.pg = Q(self._pg())
        self._plan = [(s.name, q, s.refs(), s.returns) for s, q in zip(steps, self.lite, strict=True)]  # hot path

    def _pg(self) -> str:
        if not self.out:
            if len(self.steps) != 1:
                raise ValueError("a chain of several steps needs out columns")
            return self.steps[0].render(postgres=True)
        ctes = ", ".join(f"{s.name} AS ({s.render(postgres=True)})" for s in self.steps)
        cols = ", ".join(f"{st}.{col} AS {name}" for st, col, name in self.out)
        joins = "".join(f" LEFT JOIN {s.name} ON TRUE" for s in self.steps
                        if s.name != self.anchor and any(st == s.name for st, _, _ in self.out))
        return f"WITH {ctes} SELECT {cols} FROM {self.anchor}{joins}"

    def run(self, params: dict[str, Any], *, postgres: bool) -> Steps[dict[str, Any] | None]:
        """The chain as ``Op`` steps: one statement on PostgreSQL, one per step on SQLite."""
        if postgres:
            return (yield Op("first", self.pg, params))
        rows: dict[str, dict[str, Any] | None] = {}
        for name, q, refs, returns in self._plan:
            found = {r: rows.get(r) for r, _ in refs}
            if any(row is None for row in found.values()):
                rows[name] = None  # what it refers to returned nothing
                continue
            p = {**params, **{f"{r}__{c}": (found[r] or {})[c] for r, c in refs}}
            if returns:
                rows[name] = yield Op("first", q, p)
            else:
                rows[name] = {} if (yield Op("execute", q, p)) else None
        if not self.out:
            return rows[self.steps[0].name]
        if rows[self.anchor] is None:
            return None
        return {name: (rows[st] or {}).get(col) for st, col, name in self.out}


def _out_column(spec: str) -> tuple[str, str, str]:
    """``"step.column [AS name]"`` -> (step, column, name)."""
    ref, _, name = spec.partition(" AS ")
    step, _, col = ref.strip().partition(".")
    return step, col, (name.strip() or col)
