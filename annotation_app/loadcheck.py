"""A timed load test of many simulated annotators against a running server, and the check of its
invariants from the database afterwards (``benchmarks/bench_app_load.py`` and its short test).

Each annotator claims, sometimes saves a draft, and submits, paced so that all of them together
offer ``rate`` cycles per second; some walk away from a task for longer than the lease and submit
late (the slot may have gone to someone else: a 409 is then the right answer), some release a task,
some send a submit twice with the same key. Every claim and every acknowledged submit is logged;
``verify`` then checks, from the database, that no item was ever held or answered beyond its
overlap (a double claim), and that the stored submissions are exactly the acknowledged ones.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotation_app.loadgen import HttpConn, _payload

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mix:
    """What share of cycles does what (the rest: claim, then submit)."""

    draft: float = 0.10  # save a draft before the submit
    replay: float = 0.05  # send the submit a second time with the same key (must be stored once)
    release: float = 0.02  # give the task back instead of submitting
    walk_away: float = 0.01  # wait longer than the lease, then submit (409 if the slot went to someone else)

    def __post_init__(self) -> None:
        for name in ("draft", "replay", "release", "walk_away"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1, got {getattr(self, name)}")


@dataclass
class Log:
    claims: list[tuple[int, int, int, float]] = field(default_factory=list)  # (user, assignment, item, time)
    acked: dict[str, int] = field(default_factory=dict)  # client_key -> submission id
    acked_items: list[int] = field(default_factory=list)  # the item of each acknowledged submission
    latency: dict[str, list[float]] = field(default_factory=lambda: {"claim": [], "submit": [], "cycle": []})
    late_refused: int = 0  # late submits answered 409 (the slot went to someone else)
    replays: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self, seconds: float) -> dict[str, Any]:
        out: dict[str, Any] = {"seconds": round(seconds, 1), "claims": len(self.claims),
                               "acked_submissions": len(self.acked), "replayed_submits": self.replays,
                               "late_submits_refused": self.late_refused, "reconnects": self.reconnects, "errors": len(self.errors),
                               "cycles_per_s": round(len(self.latency["cycle"]) / seconds, 1) if seconds else 0.0}
        for name, lat in self.latency.items():
            s = sorted(lat)
            for q in (0.5, 0.99, 0.999):
                out[f"{name}_p{q * 100:g}_ms"] = round(s[min(len(s) - 1, int(q * len(s)))] * 1000, 1) if s else None
        return out


async def _call(conn: HttpConn, log: Log, kind: str, method: str, path: str, body: Any) -> tuple[int, Any]:
    """One request; a connection the server closed (idle keep-alive) is reopened and the request
    sent once more, as a browser does (every call here is safe to repeat: a claim returns the lease
    already held, a submit replays its key, a draft is overwritten, a repeated release gets 409)."""
    t0 = time.perf_counter()
    try:
        status, data = await conn.request(method, path, body)
    except ConnectionError:
        log.reconnects += 1
        status, data = await conn.request(method, path, body)
    if kind:
        log.latency[kind].append(time.perf_counter() - t0)
    return status, data


async def annotator(base: str, token: str, user_id: int, campaign_id: int, log: Log, stop: asyncio.Event, *,
                    interval: float, phase: float, lease_s: float, mix: Mix, seed: int) -> None:
    """One simulated annotator: paced cycles (latency counted from when each was due) until ``stop``."""
    rng = random.Random(seed)
    conn = HttpConn(base, token)
    start, n = time.perf_counter() + phase, 0
    try:
        while not stop.is_set():
            due = start + n * interval
            n += 1
            if due > time.perf_counter():
                await asyncio.sleep(due - time.perf_counter())
            if stop.is_set():
                break
            status, body = await _call(conn, log, "claim", "POST", f"/api/campaigns/{campaign_id}/claim", {})
            if status != 200:
                log.errors.append(f"claim {status}: {body}")
                continue
            a = body["assignment"]
            if a is None:
                log.errors.append("the campaign ran out of items")
                break
            log.claims.append((user_id, a["assignment_id"], a["item"]["id"], time.time()))
            if await _work(conn, log, a, rng, mix, lease_s, due):  # back from a walk: a new schedule from now
                start, n = time.perf_counter(), 0
    finally:
        await conn.close()


async def _work(conn: HttpConn, log: Log, a: dict[str, Any], rng: random.Random, mix: Mix, lease_s: float,
                due: float) -> bool:
    """One task, from claimed to submitted (or released); True when the annotator walked away."""
    aid, r = a["assignment_id"], rng.random()
    if r < mix.release:
        status, body = await _call(conn, log, "", "POST", f"/api/assignments/{aid}/release", None)
        if status != 200:
            log.errors.append(f"release {status}: {body}")
        return False
    late = r < mix.release + mix.walk_away
    if late:  # away for longer than the lease; stop does not cut this short (the submit still comes)
        await asyncio.sleep(lease_s * 1.5)
    payload = _payload(a, rng)
    if rng.random() < mix.draft:
        status, body = await _call(conn, log, "", "PUT", f"/api/assignments/{aid}/draft", {"draft": payload})
        if status != 200 and not (late and status == 409):
            log.errors.append(f"draft {status}: {body}")
    key = f"k{aid}-{rng.getrandbits(48):x}"  # assignment ids are unique, so keys are too
    req = {"client_key": key, "payload": payload, "duration_ms": rng.randint(500, 5000)}
    status, body = await _call(conn, log, "submit", "POST", f"/api/assignments/{aid}/submit", req)
    if status == 409 and late:
        log.late_refused += 1
        return late
    if status != 200:
        log.errors.append(f"submit {status}: {body}")
        return late
    log.acked[key] = int(body["submission_id"])
    log.acked_items.append(a["item"]["id"])
    if not late:
        log.latency["cycle"].append(time.perf_counter() - due)
    if rng.random() < mix.replay:
        status, again = await _call(conn, log, "", "POST", f"/api/assignments/{aid}/submit", req)
        log.replays += 1
        if status != 200 or again["submission_id"] != body["submission_id"] or not again["replayed"]:
            log.errors.append(f"replayed submit gave {status}: {again}")
    return late


async def run(base: str, tokens: list[str], user_ids: list[int], campaign_id: int, *, seconds: float, rate: float,
              lease_s: float, mix: Mix | None = None) -> tuple[Log, float]:
    """All annotators for ``seconds`` (then each finishes the cycle it is in); returns the log and
    the wall time."""
    log, stop, mix = Log(), asyncio.Event(), mix or Mix()
    interval = len(tokens) / rate
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(annotator(base, tok, uid, campaign_id, log, stop, interval=interval,
                                           phase=interval * i / len(tokens), lease_s=lease_s, mix=mix, seed=i))
             for i, (tok, uid) in enumerate(zip(tokens, user_ids, strict=True))]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    return log, time.perf_counter() - t0


HOLDING = "('active','submitted','accepted','rejected')"


def over_overlap(conn: Any) -> int:
    """Items held (active lease, submitted, ...) by more annotators than their overlap allows."""
    from sqlalchemy import text

    return int(conn.execute(text(
        f"SELECT COUNT(*) FROM (SELECT a.item_id FROM assignments a JOIN items i ON i.id = a.item_id WHERE "
        f"a.status IN {HOLDING} GROUP BY a.item_id, i.overlap HAVING COUNT(*) > i.overlap) x")).scalar())


def watch(engine: Any, stop: threading.Event, seen: list[int], every_s: float = 0.5) -> None:
    """Sample ``over_overlap`` until ``stop`` (run in a thread during the load)."""
    while not stop.is_set():
        with engine.connect() as c:
            seen.append(over_overlap(c))
        stop.wait(every_s)


def verify(engine: Any, campaign_id: int, log: Log) -> dict[str, int]:
    """The invariants, counted from the database (all must be 0)."""
    from collections import Counter

    from sqlalchemy import text

    with engine.connect() as c:
        stored = dict(c.execute(text("SELECT client_key, id FROM submissions WHERE campaign_id = :c"),
                                {"c": campaign_id}).all())
        overlap = dict(c.execute(text("SELECT id, overlap FROM items WHERE campaign_id = :c"), {"c": campaign_id}).all())
        per_item = dict(c.execute(text("SELECT item_id, COUNT(*) FROM submissions WHERE campaign_id = :c "
                                       "GROUP BY item_id"), {"c": campaign_id}).all())
        twice = c.execute(text("SELECT COUNT(*) FROM (SELECT item_id, user_id FROM submissions WHERE campaign_id = :c "
                               "GROUP BY item_id, user_id HAVING COUNT(*) > 1) x"), {"c": campaign_id}).scalar()
        drift = c.execute(text(  # one grouped pass (a correlated count per item took minutes at 77k items)
            f"SELECT COUNT(*) FROM items i LEFT JOIN (SELECT item_id, COUNT(*) AS n FROM assignments "
            f"WHERE status IN {HOLDING} GROUP BY item_id) a ON a.item_id = i.id "
            f"WHERE i.campaign_id = :c AND i.taken <> COALESCE(a.n, 0)"), {"c": campaign_id}).scalar()
        held_over = over_overlap(c)
    acked_per_item = Counter(log.acked_items)
    return {
        "lost_submissions": sum(1 for k, sid in log.acked.items() if stored.get(k) != sid),
        "unacknowledged_or_duplicated_submissions": sum(1 for k in stored if k not in log.acked),
        "items_answered_beyond_overlap": sum(1 for i, n in per_item.items() if n > overlap[i]),
        "items_acked_beyond_overlap": sum(1 for i, n in acked_per_item.items() if n > overlap[i]),
        "items_held_beyond_overlap": held_over,
        "annotator_answered_an_item_twice": int(twice or 0),
        "slot_counter_drift": int(drift or 0),
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """``pixmo annotate serve --workers N`` in a subprocess (this checkout's code)."""

    def __init__(self, url: str, media: str, workers: int, lease_s: float = 600.0, env: dict[str, str] | None = None):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PIXMO_APP_LEASE_SECONDS": str(lease_s), **(env or {})}
        cmd = [sys.executable, "-c", "import sys; from pixmo.cli import main; sys.exit(main())", "annotate", "serve",
               "--workers", str(workers), "--port", str(self.port), "--db", url, "--media", media]
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        import httpx

        for _ in range(1200):
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("serve did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def scratch_database(admin_url: str, prefix: str = "pixmo_scratch") -> tuple[str, Any]:
    """A new, empty PostgreSQL database next to ``admin_url``'s: (its URL, a function that drops it)."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from annotation_app.db import normalize_url

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop
