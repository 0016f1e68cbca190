"""50 concurrent annotator clients claim and submit 2,000 items on a real uvicorn server, on
SQLite and on PostgreSQL. 1,800 items want one annotator and 200 want three. A watcher checks
during the run that no item is ever held beyond its overlap; afterwards every acknowledged
submission is stored exactly once (5% of submits are deliberately sent twice with the same key),
every item has exactly its overlap of submissions, and no annotator answered an item twice."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from annotation_app.db import normalize_url
from annotation_app.loadgen import run_load

HOLDING = "('active','submitted','accepted','rejected')"
ITEMS, HIGH, HIGH_OVERLAP = 2000, 200, 3


def _watch_overlap(url: str, stop: threading.Event, seen: list[int]) -> None:
    engine = create_engine(normalize_url(url))
    q = text(f"SELECT COUNT(*) FROM (SELECT a.item_id FROM assignments a JOIN items i ON i.id = a.item_id "
             f"WHERE a.status IN {HOLDING} GROUP BY a.item_id, i.overlap HAVING COUNT(*) > i.overlap) x")
    while not stop.is_set():
        with engine.connect() as c:
            seen.append(int(c.execute(q).scalar()))
        stop.wait(0.1)
    engine.dispose()


def _check(url: str, s, res) -> None:
    assert not res.errors, res.errors[:5]
    engine = create_engine(normalize_url(url))
    with engine.connect() as c:
        subs = c.execute(text("SELECT client_key, id FROM submissions")).all()
        per_item = dict(c.execute(text("SELECT item_id, COUNT(*) FROM submissions GROUP BY item_id")).all())
        overlap = dict(c.execute(text("SELECT id, overlap FROM items")).all())
        pairs = c.execute(text("SELECT COUNT(*) FROM (SELECT item_id, user_id FROM submissions "
                               "GROUP BY item_id, user_id HAVING COUNT(*) > 1) x")).scalar()
        bad_taken = c.execute(text("SELECT COUNT(*) FROM items WHERE taken <> overlap")).scalar()
    engine.dispose()
    acked = {key: sid for _aid, key, sid in res.acked}
    assert len(acked) == len(res.acked), "a client key was acknowledged twice"
    assert {r.client_key: r.id for r in subs} == acked, "stored submissions differ from the acknowledged ones"
    assert len(subs) == (ITEMS - HIGH) + HIGH * HIGH_OVERLAP
    assert per_item == overlap, "an item has more or fewer submissions than its overlap"
    assert pairs == 0, "an annotator submitted the same item twice"
    assert bad_taken == 0


def _run(url: str, tmp_path, server_factory, seeder, **env: str) -> None:
    media = str(tmp_path / "media")
    s = seeder(url, media, items=ITEMS, users=50, overlap=1, high_overlap=(HIGH, HIGH_OVERLAP))
    srv = server_factory(url, media, **env).start()
    stop, seen = threading.Event(), []
    watcher = threading.Thread(target=_watch_overlap, args=(url, stop, seen))
    watcher.start()
    try:
        t0 = time.perf_counter()
        res = asyncio.run(run_load(srv.base, s.tokens, s.campaign_id, retry_submit=0.05))
        wall = time.perf_counter() - t0
    finally:
        stop.set()
        watcher.join()
    print(f"{url.split(':')[0]}: {res.summary()} wall {wall:.1f}s, overlap checks {len(seen)}")
    assert seen and max(seen) == 0, "an item was held beyond its overlap"
    _check(url, s, res)


@pytest.mark.xdist_group("app_load")
def test_sqlite_50_clients_2000_items(sqlite_url, tmp_path, server_factory, seeder):
    _run(sqlite_url, tmp_path, server_factory, seeder)


@pytest.mark.xdist_group("app_load")
@pytest.mark.parametrize("pg_async", ["true", "false"], ids=["asyncpg", "threadpool-psycopg3"])
def test_postgres_50_clients_2000_items(pg_url, tmp_path, server_factory, seeder, pg_async):
    _run(pg_url, tmp_path, server_factory, seeder, PIXMO_APP_PG_ASYNC=pg_async)



@pytest.mark.xdist_group("app_load")
def test_paced_load_keeps_its_schedule_and_counts_latency_from_when_due(sqlite_url, tmp_path, server_factory, seeder):
    """bench_app's 'p99 at 300/s': 20 clients offering 200 cycles/s in all take (n - 1) / rate seconds
    and are far from saturation; a cycle that starts late counts its wait (no coordinated omission)."""
    from annotation_app.loadgen import LoadResult, client_loop

    media = str(tmp_path / "media")
    s = seeder(sqlite_url, media, items=121, users=20)
    srv = server_factory(sqlite_url, media).start()
    res = asyncio.run(run_load(srv.base, s.tokens, s.campaign_id, rate=200.0, max_cycles=6))
    assert res.cycles == 120 and not res.errors
    assert res.seconds >= (6 - 1) * 20 / 200.0  # each client's sixth cycle is due 0.5 s after its first
    assert res.seconds < 3.0, "120 cycles offered at 200/s should take about 0.6 s"

    late = LoadResult()  # one cycle that was due 0.3 s before the client started
    asyncio.run(client_loop(srv.base, s.tokens[0], s.campaign_id, late, seed=0, max_cycles=1, interval=1.0, phase=-0.3))
    assert late.cycles == 1 and late.latencies[0] >= 0.3, "a late cycle must count the time it waited"
