"""Load test of the annotation app as deployed: ``pixmo annotate serve --workers N`` on PostgreSQL,
many simulated annotators for minutes, then the invariants checked from the database.

    python benchmarks/bench_app_load.py --annotators 200 --workers 4 --minutes 5
    python benchmarks/bench_app_load.py --annotators 20 --workers 2 --seconds 20   # the test's size

The annotators (``annotation_app.loadcheck``) together offer ``--rate`` cycles per second (default:
one per annotator per second), each cycle paced and timed from when it was due (no coordinated
omission). A cycle is claim, sometimes a draft save, submit; 2% release their task, 1% walk away for
1.5 leases and submit late (``--lease-s`` is short so that leases really expire and are swept
during the run), 5% of submits are sent twice with the same key. A tenth of the items want three
annotators. A watcher samples "items held beyond their overlap" every 0.5 s during the run.

After the run: 0 double claims (no item ever held or answered beyond its overlap, no annotator
answering an item twice, slot counters equal to the rows holding them) and 0 lost or duplicated
submissions (the stored submissions are exactly the acknowledged ones, by client key and id).
The server processes and the load generator share this machine's cores; the load average is
printed with the figures. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))


def load_test(url: str, media: str, *, annotators: int, workers: int, seconds: float, rate: float,
              lease_s: float) -> dict[str, Any]:
    """Seed, serve, load, verify; returns the figures and the invariant counts."""
    from sqlalchemy import create_engine

    from annotation_app import loadcheck
    from annotation_app.db import normalize_url
    from annotation_app.loadcheck import Served
    from annotation_app.loadgen import seed_campaign

    items = int(rate * seconds * 1.25) + 2000
    s = seed_campaign(url, media, items=items, users=annotators, high_overlap=(items // 10, 3))
    srv = Served(url, media, workers, lease_s)
    engine = create_engine(normalize_url(url))
    stop, seen = threading.Event(), list[int]()
    watcher = threading.Thread(target=loadcheck.watch, args=(engine, stop, seen))
    load_before = os.getloadavg()
    try:
        watcher.start()
        log, wall = asyncio.run(loadcheck.run(srv.base, s.tokens, s.user_ids, s.campaign_id, seconds=seconds,
                                              rate=rate, lease_s=lease_s))
        load_after = os.getloadavg()
    finally:
        stop.set()
        watcher.join()
        srv.stop()
    checks = loadcheck.verify(engine, s.campaign_id, log)
    checks["max_items_held_beyond_overlap_during_run"] = max(seen, default=0)
    engine.dispose()
    return {"annotators": annotators, "workers": workers, "offered_cycles_per_s": rate, "lease_s": lease_s,
            "items": items, **log.summary(wall), "overlap_samples": len(seen), "invariants": checks,
            "first_errors": log.errors[:5], "load_average_before": load_before, "load_average_after": load_after,
            "cpus": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--annotators", type=int, default=200, help="simulated annotators (one API token each)")
    ap.add_argument("--workers", type=int, default=4, help="server processes (serve --workers)")
    ap.add_argument("--minutes", type=float, default=None, help="duration in minutes")
    ap.add_argument("--seconds", type=float, default=None, help="duration in seconds (default 300)")
    ap.add_argument("--rate", type=float, default=None, help="cycles/s offered in all (default: 1 per annotator)")
    ap.add_argument("--lease-s", type=float, default=20.0, help="lease seconds (short: leases expire in the run)")
    ap.add_argument("--postgres", default=os.environ.get("PIXMO_TEST_POSTGRES",
                                                         "postgresql://postgres@127.0.0.1:5432/test"),
                    help="an admin URL; a temporary database is created and dropped")
    args = ap.parse_args()
    seconds = args.seconds if args.seconds is not None else 60 * (args.minutes if args.minutes is not None else 5)
    rate = args.rate or float(args.annotators)
    import tempfile

    from bench_app import _pg_database

    url, drop = _pg_database(args.postgres)
    try:
        with tempfile.TemporaryDirectory() as d:
            out = load_test(url, f"{d}/media", annotators=args.annotators, workers=args.workers, seconds=seconds,
                            rate=rate, lease_s=args.lease_s)
    finally:
        drop()
    bad = {k: v for k, v in out["invariants"].items() if v}
    print(f"{out['annotators']} annotators, {out['workers']} workers, {out['seconds']} s, offered {rate:g} cycles/s: "
          f"{out['cycles_per_s']} cycles/s, {out['acked_submissions']} acknowledged submissions, {out['errors']} errors")
    print(f"latency ms p50/p99/p99.9: cycle {out['cycle_p50_ms']}/{out['cycle_p99_ms']}/{out['cycle_p99.9_ms']}, "
          f"claim {out['claim_p50_ms']}/{out['claim_p99_ms']}/{out['claim_p99.9_ms']}, "
          f"submit {out['submit_p50_ms']}/{out['submit_p99_ms']}/{out['submit_p99.9_ms']}")
    print(f"invariants: {'all 0' if not bad else bad}; load average {out['load_average_before']} -> "
          f"{out['load_average_after']} on {out['cpus']} CPUs")
    print(json.dumps({"bench": "app_load", **out}))
    if bad or out["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
