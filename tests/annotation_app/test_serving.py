"""Several server processes as one app: ``serve --workers`` refuses SQLite, shares the connection
budget out, and on PostgreSQL login throttling and the lease sweep agree across processes."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from sqlalchemy import create_engine, insert, text

from annotation_app import claiming
from annotation_app.db import migrate, normalize_url, write_tx
from annotation_app.models import User
from annotation_app.serving import ServeError, WorkerPlan, plan_workers, room_warning
from annotation_app.sql import Raw, run


def test_sqlite_with_several_workers_is_refused_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from annotation_app.cli import app

    res = CliRunner().invoke(app, ["serve", "--workers", "2", "--db", f"sqlite:///{tmp_path}/a.db"])
    assert res.exit_code == 2
    assert "--workers 2 needs PostgreSQL" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "a.db").exists(), "refused before touching the database"
    with pytest.raises(ServeError, match="at least 1"):
        plan_workers("postgresql://x@h/db", 0, {})


def test_workers_share_the_connection_budget_unless_it_is_set():
    assert plan_workers(f"sqlite:///{'x.db'}", 1, {}).pool_size == 40
    four = plan_workers("postgresql://x@h/db", 4, {})
    assert four.pool_size == 10 and four.connections == 4 * (10 + 5 + four.async_pool_size + 1)  # + the listener
    assert plan_workers("postgresql://x@h/db", 4, {"PIXMO_APP_POOL_SIZE": "3"}).pool_size == 3
    plan = WorkerPlan(4, 10, 4)  # 80 connections at peak
    assert room_warning(plan, (100, 10)) is None
    assert "lower PIXMO_APP_POOL_SIZE" in (room_warning(plan, (100, 30)) or "")
    assert room_warning(plan, None) is None


def _expired_leases(url: str, n: int) -> None:
    """``n`` items, each held by an active lease that ran out a minute ago."""
    engine = create_engine(normalize_url(url))
    t = time.time()
    with write_tx(engine) as c:
        uid = c.execute(insert(User).values(username="u", password_hash="x", role="annotator", active=True,
                                            created_at=t)).inserted_primary_key[0]
        cid = c.execute(text("INSERT INTO campaigns (name, task_type, instructions, overlap, config, created_at) "
                             "VALUES ('c', 'pointing', '', 1, '{}', :t) RETURNING id"), {"t": t}).scalar()
        for i in range(n):
            iid = c.execute(text("INSERT INTO items (campaign_id, source_key, media_key, image_sha256, image_url, "
                                 "width, height, spec, priority, overlap, taken) VALUES (:c, :k, 'img/x.png', 'x', "
                                 "'', 4, 4, '{}', 100, 1, 1) RETURNING id"), {"c": cid, "k": f"k{i}"}).scalar()
            c.execute(text("INSERT INTO assignments (item_id, campaign_id, user_id, status, lease_expires_at, "
                           "claimed_at, version) VALUES (:i, :c, :u, 'active', :e, :e, 1)"),
                      {"i": iid, "c": cid, "u": uid, "e": t - 60})
    engine.dispose()


def test_a_lease_sweep_runs_in_one_session_at_a_time_and_frees_each_slot_once(pg_url):
    """While one session's sweep is open, another session's sweep (another server process) is
    skipped at once instead of waiting on the same rows; every slot is given back exactly once."""
    migrate(pg_url)
    _expired_leases(pg_url, 20)
    engine = create_engine(normalize_url(pg_url))
    first, second = engine.raw_connection(), engine.raw_connection()
    try:
        n1 = run(claiming.expire_steps(time.time(), True), Raw(first, False))  # its transaction stays open
        second.cursor().execute("SET lock_timeout = '2s'")  # the old sweep waited here, then timed out
        t0 = time.perf_counter()
        n2 = run(claiming.expire_steps(time.time(), True), Raw(second, False))
        waited = time.perf_counter() - t0
        second.commit()
        first.commit()
        n3 = run(claiming.expire_steps(time.time(), True), Raw(second, False))
        second.commit()
        with engine.connect() as c:
            taken = c.execute(text("SELECT sum(taken) FROM items")).scalar()
            left = c.execute(text("SELECT count(*) FROM assignments WHERE status = 'active'")).scalar()
    finally:
        first.close()
        second.close()
        engine.dispose()
    assert (n1, n2, n3) == (20, 0, 0)
    assert waited < 1.0, "the second sweep must not queue behind the first"
    assert taken == 0 and left == 0


async def _logins(bases: list[str], n: int) -> list[int]:
    async with httpx.AsyncClient(timeout=60) as client:
        rs = await asyncio.gather(*(client.post(bases[i % len(bases)] + "/api/auth/login",
                                                json={"username": "victim", "password": f"guess-{i}"})
                                    for i in range(n)))
    return [r.status_code for r in rs]


def test_parallel_wrong_passwords_over_two_processes_get_only_the_free_attempts(pg_url, tmp_path, server_factory):
    """12 guesses for one user sent at once, half to each of two server processes on one database:
    only the free failures (3) and the one that starts the delay are checked; the other 8 get 429.
    Unordered, every guess read the same empty history and all 12 were tried."""
    from annotation_app.security import hash_password

    migrate(pg_url)
    engine = create_engine(normalize_url(pg_url))
    with write_tx(engine) as c:
        c.execute(insert(User).values(username="victim", password_hash=hash_password("the-real-one"), role="admin",
                                      active=True, created_at=time.time()))
    engine.dispose()
    env = {"PIXMO_APP_LOGIN_FREE_FAILURES": "3", "PIXMO_APP_LOGIN_DELAY_S": "60"}
    servers = [server_factory(pg_url, str(tmp_path / "media"), **env) for _ in range(2)]
    threads = [threading.Thread(target=s.start) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = asyncio.run(_logins([s.base for s in servers], 12))
    assert sorted(codes) == [401] * 4 + [429] * 8, codes
    r = httpx.post(servers[1].base + "/api/auth/login", json={"username": "victim", "password": "the-real-one"})
    assert r.status_code == 429, "the delay holds in the other process too"


def test_media_on_an_object_store_is_served_by_every_worker(pg_url, tmp_path, s3_bucket):
    """docs/deploy.md's layout: PostgreSQL, two server processes, images in an S3 bucket (moto's
    S3 server here) through fsspec: a claimed task's image comes back byte for byte, on several
    connections (the kernel spreads them over both workers)."""
    import hashlib

    import boto3

    from annotation_app.loadcheck import Served
    from annotation_app.loadgen import seed_campaign

    s = seed_campaign(pg_url, "s3://pixmo/media", items=4, users=1)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="pixmo")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("media/img/")
    srv = Served(pg_url, "s3://pixmo/media", workers=2)
    try:
        auth = {"Authorization": f"Bearer {s.tokens[0]}"}
        a = httpx.post(f"{srv.base}/api/campaigns/{s.campaign_id}/claim", json={}, headers=auth).json()["assignment"]
        bodies = [httpx.get(srv.base + a["item"]["media_url"], headers=auth) for _ in range(6)]
    finally:
        srv.stop()
    assert {r.status_code for r in bodies} == {200}
    want = boto3.client("s3").get_object(Bucket="pixmo", Key=keys[0])["Body"].read()
    assert {hashlib.sha256(r.content).hexdigest() for r in bodies} == {hashlib.sha256(want).hexdigest()}
