"""Crash test: the server is SIGKILLed while 20 clients claim and submit; after a restart every
submission the server had acknowledged is in the database, unchanged, and clients that retry an
unacknowledged submit with the same key get it stored exactly once."""

from __future__ import annotations

import asyncio
import signal

import pytest
from sqlalchemy import create_engine, text

from annotation_app.loadgen import LoadResult, client_loop


async def _scenario(srv, tokens: list[str], campaign_id: int) -> tuple[LoadResult, int]:
    stop = asyncio.Event()
    res = LoadResult()
    tasks = [asyncio.create_task(client_loop(srv.base, tok, campaign_id, res, seed=i, stop=stop,
                                             tolerate_errors=True)) for i, tok in enumerate(tokens)]
    while len(res.acked) < 150:
        await asyncio.sleep(0.01)
    srv.kill(signal.SIGKILL)  # mid-load: requests are in flight
    at_kill = len(res.acked)
    await asyncio.to_thread(srv.start)
    while len(res.acked) < at_kill + 100:
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.gather(*tasks)
    return res, at_kill


@pytest.mark.xdist_group("app_load")
def test_sigkill_under_load_loses_no_acknowledged_submission(sqlite_url, tmp_path, server_factory, seeder):
    media = str(tmp_path / "media")
    s = seeder(sqlite_url, media, items=3000, users=20)
    srv = server_factory(sqlite_url, media).start()
    res, at_kill = asyncio.run(_scenario(srv, s.tokens, s.campaign_id))
    srv.stop()
    engine = create_engine(sqlite_url)
    with engine.connect() as c:
        stored = {r.client_key: (r.id, r.assignment_id) for r in c.execute(
            text("SELECT client_key, id, assignment_id FROM submissions"))}
        over = c.execute(text("SELECT COUNT(*) FROM items WHERE taken > overlap")).scalar()
    engine.dispose()
    assert at_kill >= 150 and len(res.acked) >= at_kill + 100
    assert any("connection" in e or "connect" in e for e in res.errors), "the kill was not seen by clients"
    missing = [(aid, key, sid) for aid, key, sid in res.acked if stored.get(key) != (sid, aid)]
    assert not missing, f"{len(missing)} acknowledged submissions are missing or changed: {missing[:3]}"
    assert len({sid for _a, _k, sid in res.acked}) == len(res.acked)
    assert over == 0
