"""A small asyncio load generator for the claim+submit cycle (used by the concurrency and crash
tests and by benchmarks/bench_app.py). It speaks HTTP/1.1 with keep-alive over raw streams, so
the client costs little CPU next to the server it measures."""

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse


class HttpConn:
    """One keep-alive HTTP/1.1 connection; ``request`` returns (status, parsed JSON or None)."""

    def __init__(self, base_url: str, token: str):
        u = urlparse(base_url)
        self.host, self.port, self.token = u.hostname or "127.0.0.1", u.port or 80, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass
            self.reader = self.writer = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self.writer is None:
            try:
                await self._open()
            except OSError:
                raise ConnectionError("cannot connect") from None
        assert self.reader is not None and self.writer is not None
        data = b"" if body is None else json.dumps(body).encode()
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {self.token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
        try:
            self.writer.write(head.encode() + data)
            await self.writer.drain()
            status_line = await self.reader.readuntil(b"\r\n")
            headers = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            await self.close()
            raise ConnectionError("connection lost") from None
        length = 0
        close = False
        for line in headers.decode("latin-1").split("\r\n"):
            k, _, v = line.partition(":")
            if k.lower() == "content-length":
                length = int(v.strip())
            elif k.lower() == "connection" and v.strip().lower() == "close":
                close = True
        try:
            payload = await self.reader.readexactly(length) if length else b""
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            await self.close()
            raise ConnectionError("connection lost") from None
        if close:
            await self.close()
        status = int(status_line.split()[1])
        return status, (json.loads(payload) if payload else None)


@dataclass
class LoadResult:
    cycles: int = 0
    acked: list[tuple[int, str, int]] = field(default_factory=list)  # (assignment_id, client_key, submission_id)
    latencies: list[float] = field(default_factory=list)  # seconds per claim+submit cycle
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        lat = sorted(self.latencies)

        def pct(q: float) -> float:
            return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

        return {"cycles": self.cycles, "seconds": round(self.seconds, 3),
                "cycles_per_s": round(self.cycles / self.seconds, 1) if self.seconds else 0.0,
                "p50_ms": round(pct(0.50), 2), "p99_ms": round(pct(0.99), 2), "errors": len(self.errors)}


def _payload(assignment: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    item = assignment["item"]
    if rng.random() < 0.1:
        return {"label": "thing", "points": [], "not_present": True}
    pts = [{"x": round(rng.uniform(0, item["width"]), 2), "y": round(rng.uniform(0, item["height"]), 2)}
           for _ in range(rng.randint(1, 5))]
    return {"label": "thing", "points": pts, "not_present": False}


async def client_loop(base_url: str, token: str, campaign_id: int, res: LoadResult, *, seed: int,
                      max_cycles: int | None = None, retry_submit: float = 0.0, stop: asyncio.Event | None = None,
                      tolerate_errors: bool = False, interval: float = 0.0, phase: float = 0.0) -> None:
    """Claim and submit until the campaign is empty. ``retry_submit`` is the share of submits sent
    twice with the same client key (they must be stored once). Connection errors are retried with
    the same client key when ``tolerate_errors`` (the crash test).

    ``interval`` > 0 paces the client: cycle n is due at start + ``phase`` + n * ``interval``, and its
    latency counts from when it was due, not from when it was sent, so a slow server cannot hide
    its queue by delaying the next request (no coordinated omission)."""
    rng = random.Random(seed)
    conn = HttpConn(base_url, token)
    n = 0
    start = time.perf_counter() + phase
    try:
        while (max_cycles is None or n < max_cycles) and not (stop and stop.is_set()):
            t0 = time.perf_counter()
            if interval:
                due = start + n * interval
                if due > t0:
                    await asyncio.sleep(due - t0)
                t0 = due
            try:
                status, body = await conn.request("POST", f"/api/campaigns/{campaign_id}/claim", {})
            except ConnectionError as exc:
                if not tolerate_errors:
                    raise
                res.errors.append(f"claim: {exc}")
                await asyncio.sleep(0.05)
                continue
            if status != 200:
                res.errors.append(f"claim {status}: {body}")
                if not tolerate_errors:
                    return
                await asyncio.sleep(0.05)
                continue
            a = body["assignment"]
            if a is None:
                return
            key = f"k{seed}-{a['assignment_id']}-{rng.getrandbits(40):x}"
            req = {"client_key": key, "payload": _payload(a, rng), "duration_ms": rng.randint(500, 5000)}
            sub = await _submit(conn, a["assignment_id"], req, res, tolerate_errors, stop)
            if sub is None:
                return
            res.latencies.append(time.perf_counter() - t0)
            res.acked.append((a["assignment_id"], key, sub))
            res.cycles += 1
            n += 1
            if retry_submit and rng.random() < retry_submit:
                status, body = await conn.request("POST", f"/api/assignments/{a['assignment_id']}/submit", req)
                if status != 200 or body["submission_id"] != sub or not body["replayed"]:
                    res.errors.append(f"replayed submit gave {status}: {body}")
    finally:
        await conn.close()


async def _submit(conn: HttpConn, aid: int, req: dict[str, Any], res: LoadResult, tolerate: bool,
                  stop: asyncio.Event | None) -> int | None:
    while True:
        try:
            status, body = await conn.request("POST", f"/api/assignments/{aid}/submit", req)
        except ConnectionError as exc:
            if not tolerate or (stop and stop.is_set()):
                if not tolerate:
                    raise
                return None
            res.errors.append(f"submit: {exc}")
            await asyncio.sleep(0.05)
            continue
        if status == 200:
            return int(body["submission_id"])
        res.errors.append(f"submit {status}: {body}")
        if not tolerate or status < 500:
            return None
        await asyncio.sleep(0.05)


async def run_load(base_url: str, tokens: list[str], campaign_id: int, *, rate: float = 0.0, **kw: Any) -> LoadResult:
    """Run one client per token concurrently until the campaign is done; returns what was acknowledged.

    ``rate`` > 0 offers that many cycles per second in all (each client paced at rate / clients,
    their schedules evenly staggered); 0 runs every client flat out (a closed loop at saturation)."""
    res = LoadResult()
    interval = len(tokens) / rate if rate else 0.0
    t0 = time.perf_counter()
    await asyncio.gather(*(client_loop(base_url, tok, campaign_id, res, seed=i, interval=interval,
                                       phase=interval * i / len(tokens), **kw) for i, tok in enumerate(tokens)))
    res.seconds = time.perf_counter() - t0
    return res


@dataclass
class Seeded:
    campaign_id: int
    tokens: list[str]
    user_ids: list[int]
    item_ids: list[int]


def seed_campaign(url: str, media_root: str, *, items: int, users: int, overlap: int = 1,
                  task_type: str = "pointing", role: str = "annotator", name: str = "load",
                  high_overlap: tuple[int, int] = (0, 1), password_hash: str | None = None) -> Seeded:
    """A campaign of ``items`` items over one small image and ``users`` users with API tokens
    (bulk inserts, for load tests). ``high_overlap=(n, k)`` gives the first n items overlap k."""
    import numpy as np
    from PIL import Image
    from sqlalchemy import insert, text

    from annotation_app.db import inserted_id, make_engine, migrate, write_tx
    from annotation_app.media import MediaStore, image_key
    from annotation_app.models import Campaign, Item, User
    from annotation_app.security import hash_password, new_token
    from pixmo.shards import sha256_hex

    migrate(url)
    engine = make_engine(url)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    data = buf.getvalue()
    sha = sha256_hex(data)
    key = image_key(sha, "png")
    MediaStore(media_root).put(key, data)
    pw = password_hash or hash_password("load-test-password")
    t = time.time()
    with write_tx(engine) as conn:
        cid = inserted_id(conn.execute(insert(Campaign).values(name=name, task_type=task_type, instructions="", overlap=overlap,
                                                   config={"label": "thing"}, created_at=t)))
        conn.execute(insert(Item), [dict(campaign_id=cid, source_key=f"{sha}:{i}", media_key=key, image_sha256=sha,
                                         image_url="", width=64, height=48, spec={"label": "thing"}, gold=None,
                                         priority=100, overlap=high_overlap[1] if i < high_overlap[0] else overlap,
                                         taken=0) for i in range(items)])
        item_ids = [r[0] for r in conn.execute(text("SELECT id FROM items WHERE campaign_id = :c ORDER BY id"),
                                               {"c": cid})]
        uids, tokens = [], []
        for i in range(users):
            uid = inserted_id(conn.execute(insert(User).values(username=f"{name}{i}", password_hash=pw, role=role, active=True,
                                                   created_at=t)))
            uids.append(uid)
            tokens.append(new_token(conn, uid, "load")[1])
    engine.dispose()
    return Seeded(int(cid), tokens, uids, item_ids)
