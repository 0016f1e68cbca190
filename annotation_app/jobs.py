"""A durable background-job queue in the database, with leases, retries and idempotent enqueue.

``enqueue`` runs inside the caller's transaction, so a job exists exactly when the write that
asked for it committed. A worker claims one job at a time with a lease (``SKIP LOCKED`` on
PostgreSQL); a job whose worker died is claimed again after its lease runs out, up to
``max_attempts``. Handlers must be idempotent (a job can run twice if a worker dies after the
work but before ``complete``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, insert, or_, select, update

from annotation_app.db import inserted_id, now, write_tx
from annotation_app.models import Job, table

log = logging.getLogger(__name__)
J = table(Job)


def enqueue(conn: Connection, kind: str, dedupe_key: str, payload: dict[str, Any] | None = None, *,
            max_attempts: int = 3, delay_s: float = 0.0) -> int:
    """Add a job unless one with ``dedupe_key`` exists; returns the job id either way."""
    old = conn.execute(select(J.c.id).where(J.c.dedupe_key == dedupe_key)).scalar()
    if old is not None:
        return int(old)
    t = now()
    return inserted_id(conn.execute(insert(J).values(kind=kind, dedupe_key=dedupe_key, payload=payload or {},
                                                     status="queued", attempts=0, max_attempts=max_attempts,
                                                     run_after=t + delay_s, created_at=t, updated_at=t)))


def claim_job(engine: Engine, kinds: list[str], worker: str, lease_s: float = 300.0) -> dict[str, Any] | None:
    t = now()
    with write_tx(engine) as conn:
        q = (select(J).where(J.c.kind.in_(kinds), J.c.run_after <= t, or_(
            J.c.status == "queued", (J.c.status == "running") & (J.c.lease_expires_at < t)))
             .order_by(J.c.run_after, J.c.id).limit(1))
        if engine.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        row = conn.execute(q).first()
        if row is None:
            return None
        if row.attempts >= row.max_attempts:  # its last worker died while running it
            conn.execute(update(J).where(J.c.id == row.id).values(status="failed", updated_at=t,
                                                                  error=(row.error or "") + "\nlease expired"))
            return None
        conn.execute(update(J).where(J.c.id == row.id).values(status="running", attempts=row.attempts + 1,
                                                              worker=worker, lease_expires_at=t + lease_s,
                                                              updated_at=t))
        return dict(row._mapping, attempts=row.attempts + 1, worker=worker)


def heartbeat_job(engine: Engine, job_id: int, worker: str, lease_s: float = 300.0) -> bool:
    with write_tx(engine) as conn:
        return conn.execute(update(J).where(J.c.id == job_id, J.c.worker == worker, J.c.status == "running")
                            .values(lease_expires_at=now() + lease_s)).rowcount > 0


def complete_job(engine: Engine, job_id: int, worker: str, result: dict[str, Any] | None = None) -> bool:
    with write_tx(engine) as conn:
        return conn.execute(update(J).where(J.c.id == job_id, J.c.worker == worker, J.c.status == "running")
                            .values(status="done", result=result or {}, updated_at=now())).rowcount > 0


def fail_job(engine: Engine, job_id: int, worker: str, error: str, backoff_s: float = 5.0) -> str:
    """Record a failure: back to ``queued`` (with backoff) while attempts remain, else ``failed``."""
    with write_tx(engine) as conn:
        row = conn.execute(select(J).where(J.c.id == job_id)).one()
        status = "queued" if row.attempts < row.max_attempts else "failed"
        conn.execute(update(J).where(J.c.id == job_id, J.c.worker == worker).values(
            status=status, error=error[-4000:], run_after=now() + backoff_s * row.attempts, updated_at=now()))
        return status


def get_job(conn: Connection, job_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(J).where(J.c.id == job_id)).first()
    return dict(row._mapping) if row else None


Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


def run_worker(engine: Engine, handlers: dict[str, Handler], stop: threading.Event, *, poll_s: float = 0.5,
               lease_s: float = 300.0, worker: str | None = None, once: bool = False) -> int:
    """Run jobs of the handled kinds until ``stop`` is set (or the queue is empty with ``once``)."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    done = 0
    while not stop.is_set():
        job = claim_job(engine, list(handlers), worker, lease_s)
        if job is None:
            if once:
                break
            stop.wait(poll_s)
            continue
        try:
            result = handlers[job["kind"]](job)
        except Exception as exc:  # a handler error is recorded on the job, never lost
            log.warning("job %s (%s) failed: %s", job["id"], job["kind"], exc)
            fail_job(engine, job["id"], worker, f"{exc}\n{traceback.format_exc()}")
            continue
        complete_job(engine, job["id"], worker, result)
        done += 1
    return done
