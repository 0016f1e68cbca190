"""Credential changes reach every server process at once (PostgreSQL ``LISTEN``/``NOTIFY``).

Each process caches valid credentials for ``deps.CACHE_SECONDS`` so that a request does not pay
a lookup. On PostgreSQL, triggers (migration 0500) send a notice on ``CHANNEL`` whenever a row of
``users`` (role, active, password, name), ``api_tokens`` or ``web_sessions`` (revoked, expiry) is
updated or deleted, whoever does it: a route in any worker, ``pixmo annotate`` on the command
line, or SQL typed by hand. :func:`listen` holds one connection per process that receives them
and empties the process's cache. While that connection is not up (start-up, a database restart)
the process does not use its cache at all: every request looks its credentials up.

SQLite runs one server process (``serve --workers`` refuses more), whose routes empty the cache
themselves; a change made by another process (the CLI) is seen within ``deps.CACHE_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

CHANNEL = "pixmo_credentials"
APPLICATION_NAME = "pixmo-credential-notices"  # how the listener shows in pg_stat_activity
log = logging.getLogger(__name__)


class _State:
    required = False  # this process runs a listener: trust the cache only while it is connected
    listening = False


_STATE = _State()


def cache_trusted() -> bool:
    """Whether cached credentials may be used now."""
    return _STATE.listening or not _STATE.required


def _forget(*_: Any) -> None:
    from annotation_app.deps import forget_credentials

    forget_credentials()


async def listen(dsn: str, stop: asyncio.Event, retry_s: float = 0.5) -> None:
    """Receive credential-change notices on ``dsn`` until ``stop`` is set, reconnecting with
    backoff; the cache is emptied on every notice and every time the connection comes or goes."""
    import asyncpg

    delay = retry_s
    while not stop.is_set():
        conn = None
        try:
            conn = await asyncpg.connect(dsn, timeout=10, server_settings={"application_name": APPLICATION_NAME})
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            await conn.add_listener(CHANNEL, _forget)
            _forget()  # whatever changed while nobody listened
            _STATE.listening, delay = True, retry_s
            await _first(lost.wait(), stop.wait(), _pings(conn, lost))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("credential notices unavailable (%s); not caching credentials until reconnected", exc)
        finally:
            _STATE.listening = False
            _forget()
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 10.0)


async def _pings(conn: Any, lost: asyncio.Event, every_s: float = 2.0) -> None:
    """A connection that died without a reset (a dropped network) is noticed within a few seconds."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await conn.execute("SELECT 1", timeout=every_s)
        except Exception:  # noqa: BLE001 - any failure means the notices may be lost
            lost.set()
            return


async def _first(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def listening(dsn: str | None):  # noqa: ANN201 - an async context manager
    """The app's lifespan: run :func:`listen` beside the server when the database is PostgreSQL."""
    if dsn is None:
        yield
        return
    stop = asyncio.Event()
    _STATE.required = True  # no caching until the listener is connected
    task = asyncio.create_task(listen(dsn, stop))
    try:
        yield
    finally:
        stop.set()
        await task
        _STATE.required = False
