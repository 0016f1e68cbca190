"""Engine creation (SQLite in WAL mode, or PostgreSQL), write transactions and migrations."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event
from sqlalchemy.engine import make_url

_write_locks: dict[int, threading.Lock] = {}


def now() -> float:
    return time.time()


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an ``INSERT`` made."""
    pk = result.inserted_primary_key
    if pk is None:
        raise RuntimeError("the INSERT reported no primary key")
    return int(pk[0])


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_dir(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


def normalize_url(url: str) -> str:
    """A bare ``postgresql://`` (or ``postgres://``) URL uses psycopg 3, which prepares the hot
    statements on the server after a few uses; an explicit driver (``+psycopg2``) is kept."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare):]
    return url


IDLE_PING_S = 10.0
"""A pooled server connection idle longer than this is pinged before use (a dead one is replaced)."""


def make_engine(url: str, *, synchronous: str = "NORMAL", pool_size: int = 10,
                background_checkpoint: bool = False) -> Engine:
    """An engine; SQLite gets WAL, a busy timeout, foreign keys and explicit BEGIN handling."""
    url = normalize_url(url)
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size // 2)
        _ping_when_idle(engine)
        return engine
    _sqlite_dir(url)
    if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"sqlite_synchronous must be NORMAL, FULL or EXTRA, got {synchronous!r}")
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                           pool_size=pool_size, max_overflow=pool_size * 2)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _rec):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if background_checkpoint:
            cur.execute("PRAGMA wal_autocheckpoint=0")  # a daemon thread checkpoints instead
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    _write_locks[id(engine)] = threading.Lock()
    if background_checkpoint:
        _start_checkpointer(url, synchronous)
    return engine


async def _keep_session(conn: Any) -> None:
    """How a connection is reset on its way back to the pool: not at all. asyncpg still rolls back
    an open transaction; its default reset query (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL``) would cost a round trip and four statements per request, and undoes nothing here:
    these connections only ever run whole transactions, never session settings, cursors, listeners
    or advisory locks."""


def asyncpg_dsn(url: str) -> str | None:
    """The asyncpg DSN of a PostgreSQL database URL; None for other databases or without asyncpg."""
    u = make_url(normalize_url(url))
    if u.get_backend_name() != "postgresql":
        return None
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return None
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncPgPool:
    """An asyncpg pool for the claim and submit hot paths on PostgreSQL, created on first use in
    the running event loop (a pool belongs to its loop; tests run apps on several loops)."""

    def __init__(self, dsn: str, size: int):
        self.dsn, self.size = dsn, size
        self._loop: Any = None
        self._pool: Any = None

    @staticmethod
    def for_url(url: str, size: int) -> AsyncPgPool | None:
        """None unless ``url`` is PostgreSQL and asyncpg is installed."""
        dsn = asyncpg_dsn(url)
        return AsyncPgPool(dsn, size) if dsn else None

    async def get(self) -> Any:
        import asyncio

        import asyncpg

        async def create() -> Any:
            return await asyncpg.create_pool(self.dsn, min_size=min(4, self.size), max_size=self.size,
                                             reset=_keep_session)

        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # concurrent first callers share one creation task
            self._loop, self._pool = loop, loop.create_task(create())
        try:
            return await self._pool
        except Exception:
            self._loop = None  # the next request tries again (the database may be starting)
            raise


def warm_pool(engine: Engine, n: int) -> None:
    """Open ``n`` pooled connections now (PostgreSQL): the first requests do not each pay for a new
    server process and its authentication."""
    if is_sqlite(engine):
        return
    conns = [engine.raw_connection() for _ in range(n)]
    for c in conns:
        c.close()


def _ping_when_idle(engine: Engine) -> None:
    """Like SQLAlchemy's ``pool_pre_ping``, but only for connections that sat idle: a busy server
    does not pay one extra round trip per transaction, and a connection dropped while idle (a
    database restart) is still detected and replaced before a request uses it."""
    from sqlalchemy import exc

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn, rec) -> None:  # noqa: ANN001
        rec.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, rec, _proxy) -> None:  # noqa: ANN001
        if time.monotonic() - rec.info.get("idle_since", time.monotonic()) < IDLE_PING_S:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
        except Exception as e:  # the pool discards this connection and retries with a new one
            raise exc.DisconnectionError(f"stale pooled connection: {e}") from e


_checkpointers: set[str] = set()


def _start_checkpointer(url: str, synchronous: str) -> None:
    """Copy the WAL back into the database file from a daemon thread every 0.2 s, so a
    checkpoint's fsync never stalls a request on the event loop."""
    import sqlite3

    path = make_url(url).database
    if not path or path == ":memory:" or path in _checkpointers:
        return
    _checkpointers.add(path)

    def loop() -> None:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        while True:
            time.sleep(0.2)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:  # the database may be gone (tests); try again later
                pass

    threading.Thread(target=loop, name="sqlite-checkpoint", daemon=True).start()


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A read-write transaction. On SQLite the write lock is taken at BEGIN (no upgrade deadlocks)
    and writers of this process queue on a Python lock instead of SQLite's sleeping busy handler."""
    lock = _write_locks.get(id(engine))
    if lock is None:
        with engine.begin() as conn:
            yield conn
        return
    with lock, engine.connect().execution_options(write=True) as conn, conn.begin():
        yield conn


@contextmanager
def raw_tx(engine: Engine, write: bool = True) -> Iterator[Any]:
    """A transaction on a pooled DB-API connection, without SQLAlchemy's Connection layer (the
    claim/submit hot path; statements go through ``annotation_app.sql``). Same locking as write_tx."""
    from annotation_app.sql import Raw

    lock = _write_locks.get(id(engine)) if write else None
    sqlite = is_sqlite(engine)
    if lock is not None:
        lock.acquire()
    fairy = engine.raw_connection()
    try:
        if sqlite:
            fairy.cursor().execute("BEGIN IMMEDIATE" if write else "BEGIN")
        yield Raw(fairy, sqlite)
        if sqlite:
            fairy.cursor().execute("COMMIT")
        else:
            fairy.commit()
    except BaseException:
        if sqlite:
            if not fairy.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                raise
            fairy.cursor().execute("ROLLBACK")
        else:
            _rollback_or_invalidate(fairy)
        raise
    finally:
        fairy.close()
        if lock is not None:
            lock.release()


def _rollback_or_invalidate(fairy: Any) -> None:
    """Roll back; a connection the server dropped is discarded instead of going back to the pool."""
    try:
        fairy.rollback()
    except Exception:  # noqa: BLE001 - the original error is what the caller re-raises
        fairy.invalidate()
        return
    if getattr(fairy.dbapi_connection, "closed", 0):
        fairy.invalidate()


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    _sqlite_dir(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")
