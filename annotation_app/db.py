"""Engine creation (SQLite in WAL mode, or PostgreSQL), write transactions and migrations."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

_write_locks: dict[int, threading.Lock] = {}


def now() -> float:
    return time.time()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, synchronous: str = "NORMAL", pool_size: int = 10) -> Engine:
    """An engine; SQLite gets WAL, a busy timeout, foreign keys and explicit BEGIN handling."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)
    if u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
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
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    _write_locks[id(engine)] = threading.Lock()
    return engine


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
def read_tx(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")
