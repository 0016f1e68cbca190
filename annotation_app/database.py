"""The one way routes reach the database: the ``Db`` dependency.

A route declares ``db: Db`` and hands it the work as a function of a connection; each call is one
transaction, run where the app runs database work: inline on the event loop on SQLite (one writer
anyway, no thread hop), in the threadpool on PostgreSQL (the loop never blocks on a socket).

- ``await db.read(fn)``: ``fn(conn)`` in a read transaction.
- ``await db.write(fn)``: ``fn(conn)`` in a write transaction (on SQLite ``BEGIN IMMEDIATE`` under the
  process's writer lock, see ``db.write_tx``); an exception rolls it back.
- ``await db.steps(make)``: the claim/submit hot path, ``make(postgres)`` written as ``sql.Op`` steps:
  on PostgreSQL with asyncpg on the event loop, otherwise on a pooled DB-API connection.
- ``await db.call(fn)``: ``fn(engine)`` for work that opens its own transactions (exports, URL imports).

``off_loop=True`` runs the call in the threadpool on SQLite too (password hashing, exports).

Why a handle and not a ``Connection`` opened by the dependency for the whole request: a route often
awaits between database steps (an upload written to the media store, an LLM call, the audio build),
and a transaction held across those awaits would hold SQLite's writer lock on the event loop's thread,
so the next writer on the same loop would block the loop for good; here every transaction is exactly
one synchronous call, as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from annotation_app.db import AsyncPgPool, raw_tx, read_tx, write_tx
from annotation_app.sql import Op, Q, Steps, run, run_async
from annotation_app.sql import first as sql_first

T = TypeVar("T")


class Database:
    """The app's engine, and how its calls run (see the module docstring)."""

    def __init__(self, engine: Engine, *, inline: bool, pg_pool: AsyncPgPool | None):
        self.engine, self.inline, self.pg_pool = engine, inline, pg_pool

    async def _run(self, fn: Callable[[], T], off_loop: bool) -> T:
        if self.inline and not off_loop:
            return fn()
        return await run_in_threadpool(fn)

    async def read(self, fn: Callable[[Connection], T], *, off_loop: bool = False) -> T:
        def tx() -> T:
            with read_tx(self.engine) as conn:
                return fn(conn)

        return await self._run(tx, off_loop)

    async def write(self, fn: Callable[[Connection], T], *, off_loop: bool = False) -> T:
        def tx() -> T:
            with write_tx(self.engine) as conn:
                return fn(conn)

        return await self._run(tx, off_loop)

    async def call(self, fn: Callable[[Engine], T], *, off_loop: bool = False) -> T:
        return await self._run(lambda: fn(self.engine), off_loop)

    async def steps(self, make: Callable[[bool], Steps[T]]) -> T:
        if self.pg_pool is not None:
            return await _asyncpg(await self.pg_pool.get(), lambda conn: _in_tx(conn, make))

        def tx() -> T:
            with raw_tx(self.engine) as conn:
                return run(make(not conn.sqlite), conn)

        return await self._run(tx, False)

    async def first(self, q: Q, params: dict[str, Any]) -> dict[str, Any] | None:
        """The first row of one read statement, without an explicit transaction (a single
        statement sees one snapshot anyway): on the event loop through asyncpg when the app has its
        pool (no thread hop, no BEGIN/COMMIT round trips), otherwise like ``read``."""
        if self.pg_pool is not None:
            return await _asyncpg(await self.pg_pool.get(), lambda conn: run_async(_first(q, params), conn))

        def tx() -> dict[str, Any] | None:
            with raw_tx(self.engine, write=False) as conn:
                return sql_first(conn, q, params)

        return await self._run(tx, False)


def _first(q: Q, params: dict[str, Any]) -> Steps[dict[str, Any] | None]:
    return (yield Op("first", q, params))


async def _in_tx(conn: Any, make: Callable[[bool], Steps[T]]) -> T:
    async with conn.transaction():
        return await run_async(make(True), conn)


async def _asyncpg(pool: Any, work: Callable[[Any], Awaitable[T]]) -> T:
    """``work(conn)`` on a pooled asyncpg connection; when the server closed the pooled
    connections (a restart) they are all renewed and ``work`` runs once more (safe: a claim returns
    the lease it made, a submit replays its key, a read reads again)."""
    import asyncpg

    dropped = (asyncpg.PostgresConnectionError, asyncpg.exceptions.AdminShutdownError, asyncpg.InterfaceError)
    try:
        async with pool.acquire() as conn:
            return await work(conn)
    except dropped:
        await pool.expire_connections()
    async with pool.acquire() as conn:
        return await work(conn)


async def database(request: Request) -> Database:
    """The dependency behind ``Db`` (async, so FastAPI does not hop to a thread to call it)."""
    db: Database = request.app.state.db
    return db


Db = Annotated[Database, Depends(database)]
