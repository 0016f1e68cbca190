"""How ``pixmo annotate serve --workers N`` runs N server processes as one app.

Each worker is a uvicorn process built by the app factory (``serve_demo:asgi_app``); they accept
on one shared socket and share nothing but the database. Everything that must agree between them
lives there: leases and slots (row locks, ``FOR UPDATE SKIP LOCKED``), idempotent submits (a
unique key), login throttling (attempts are rows; on PostgreSQL a per-(username, client) advisory
lock orders parallel attempts), gold-gating pauses, and the lease sweep (one process at a time:
a PostgreSQL advisory lock, ``claiming.SWEEP_LOCK``). The one per-process state is a 5 s cache of
valid credentials (``deps.CACHE_SECONDS``), emptied in every process by a PostgreSQL notice when
credentials change (``annotation_app.credentials``), and not used while a process cannot receive
notices.

SQLite is refused for N > 1: it has one writer, and the app queues its writers on a lock inside
one process; several processes would wait in SQLite's sleeping busy handler instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from annotation_app.db import normalize_url

THREADPOOL = 40
"""Starlette's threadpool size: the most pooled connections one process can use at once."""


class ServeError(ValueError):
    """The serve options cannot work together; the message is one line for the user."""


@dataclass(frozen=True)
class WorkerPlan:
    workers: int
    pool_size: int  # SQLAlchemy pool per process (plus half again as overflow)
    async_pool_size: int  # asyncpg pool per process (claim and submit)

    @property
    def connections_per_worker(self) -> int:
        # + 1: the connection that listens for credential-change notices (annotation_app.credentials)
        return self.pool_size + self.pool_size // 2 + self.async_pool_size + 1

    @property
    def connections(self) -> int:
        return self.workers * self.connections_per_worker


def plan_workers(url: str, workers: int, environ: dict[str, str] | None = None) -> WorkerPlan:
    """The per-process pool sizes for ``workers`` processes on ``url``; ``ServeError`` when the
    combination cannot work (SQLite with several processes, fewer than one worker). A pool size
    set in the environment (``PIXMO_APP_POOL_SIZE``, ``PIXMO_APP_PG_ASYNC_POOL_SIZE``) is kept;
    otherwise the 40 threadpool connections of one process are shared out between the workers."""
    env = os.environ if environ is None else environ
    if workers < 1:
        raise ServeError(f"--workers must be at least 1, got {workers}")
    backend = make_url(normalize_url(url)).get_backend_name()
    if workers > 1 and backend == "sqlite":
        raise ServeError(f"--workers {workers} needs PostgreSQL: SQLite has one writer and the app serialises "
                         "writes inside one process; use --workers 1 or a postgresql:// database")
    pool = int(env.get("PIXMO_APP_POOL_SIZE") or max(4, THREADPOOL // workers))
    apg = int(env.get("PIXMO_APP_PG_ASYNC_POOL_SIZE") or max(2, 2 * (os.cpu_count() or 1)))
    return WorkerPlan(workers, pool, apg)


def pg_connection_room(url: str) -> tuple[int, int] | None:
    """(max_connections, connections in use) of the PostgreSQL server at ``url``; None for SQLite."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    u = normalize_url(url)
    if make_url(u).get_backend_name() != "postgresql":
        return None
    engine = create_engine(u, poolclass=NullPool)
    try:
        with engine.connect() as c:
            most = int(c.execute(text("SHOW max_connections")).scalar() or 0)
            used = int(c.execute(text("SELECT count(*) FROM pg_stat_activity")).scalar() or 0)
    finally:
        engine.dispose()
    return most, used


def room_warning(plan: WorkerPlan, room: tuple[int, int] | None) -> str | None:
    """A one-line warning when the workers could open more connections than the server allows."""
    if room is None:
        return None
    most, used = room
    if plan.connections <= most - used - 3:  # 3: superuser_reserved_connections' default
        return None
    return (f"warning: {plan.workers} workers x {plan.connections_per_worker} connections = {plan.connections} "
            f"at peak, but PostgreSQL allows {most} and {used} are in use; lower PIXMO_APP_POOL_SIZE or raise "
            "max_connections")
