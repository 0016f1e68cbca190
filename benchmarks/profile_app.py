"""Where a claim+submit cycle's time goes on PostgreSQL: the saturated loop of bench_app.py (50
clients, one server process) under py-spy, plus the CPU seconds of every process involved.

    python benchmarks/profile_app.py --items 3000            # needs py-spy (pip install py-spy)
    python benchmarks/profile_app.py --workers 2             # the same with two server processes

The server is pinned to CPU 0 and the load generator to CPU 1 (as in bench_app.py; with
``--workers 2`` the server gets both CPUs). It prints the CPU milliseconds per cycle of the server,
of PostgreSQL's backends and of the client (from /proc), and the server's sampled time by where
the innermost frame is (app code, FastAPI/Starlette, pydantic, asyncpg, the HTTP server, json,
the event loop idle...), then the top functions by own time. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

CATEGORIES = (  # (name, path fragments of the innermost frame), first match wins
    ("idle (event loop waiting)", ("select", "epoll", "_run_once (asyncio", "run_forever", "uvloop/loop.pyx")),
    ("asyncpg driver", ("asyncpg/",)),
    ("pydantic", ("pydantic",)),
    ("FastAPI + Starlette", ("fastapi/", "starlette/")),
    ("HTTP server (uvicorn, httptools)", ("uvicorn/", "httptools")),
    ("json", ("json/", "orjson")),
    ("logging", ("logging/",)),
    ("app: annotation_app", ("annotation_app/",)),
    ("asyncio", ("asyncio/",)),
)


def _category(frame: str) -> str:
    for name, frags in CATEGORIES:
        if any(f in frame for f in frags):
            return name
    return "other"


def _postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process so far (backends, WAL writer, checkpointer)."""
    total = 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().strip() in ("postgres", "postmaster"):
                f = (d / "stat").read_text().rsplit(")", 1)[1].split()
                total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return total


def _tree_cpu(pid: int) -> float:
    from bench_app import _cpu_seconds

    total = _cpu_seconds(pid)  # its threads included; then its child processes (serve --workers)
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                    total += _cpu_seconds(int(d.name))
            except OSError:
                continue
    return total


def _py_spy() -> str:
    import shutil

    here = Path(sys.executable).parent / "py-spy"
    found = str(here) if here.exists() else shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    return found


def parse_raw(path: Path) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """py-spy ``--format raw`` (collapsed stacks): samples by category and by function (own time)."""
    cats: collections.Counter[str] = collections.Counter()
    funcs: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        top = stack.split(";")[-1]
        total += n
        cats[_category(top)] += n
        funcs[top] += n
    return cats, funcs, total


def _pg_settings(url: str, pairs: list[str]) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from annotation_app.db import normalize_url

    engine = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        for pair in pairs:
            name, _, value = pair.partition("=")
            if not (name.replace("_", "").isalnum() and value.replace("_", "").isalnum()):
                raise SystemExit(f"--pg-set {pair!r}: want NAME=VALUE of letters, digits and '_'")
            c.execute(text(f'ALTER DATABASE "{make_url(url).database}" SET {name} = {value}'))
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=3000, help="claim+submit cycles in the profiled run")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1, help="server processes (>1: serve --workers, both CPUs)")
    ap.add_argument("--top", type=int, default=25, help="functions to list")
    ap.add_argument("--pg-set", action="append", default=[], metavar="NAME=VALUE",
                    help="a PostgreSQL setting for the scratch database (ALTER DATABASE ... SET), repeatable")
    ap.add_argument("--postgres", default=os.environ.get("PIXMO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    from bench_app import WARMUP_PER_CLIENT, Server, _checked, _pg_database

    from annotation_app.loadgen import run_load, seed_campaign

    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})
    url, drop = _pg_database(args.postgres)
    try:
        _pg_settings(url, args.pg_set)
        with tempfile.TemporaryDirectory() as d:
            media = f"{d}/media"
            warm = seed_campaign(url, media, items=WARMUP_PER_CLIENT * args.clients, users=args.clients, name="warmup")
            s = seed_campaign(url, media, items=args.items, users=args.clients)
            env = {"PIXMO_APP_DATABASE_URL": url, "PIXMO_APP_MEDIA_ROOT": media}
            if args.workers > 1:
                from annotation_app.loadcheck import Served

                srv: Any = Served(url, media, args.workers)
                pid = srv.proc.pid
            else:
                srv = Server("annotation_app.serve_demo:asgi_app", env)
                pid = srv.proc.pid
            try:
                _checked(asyncio.run(run_load(srv.base, warm.tokens, warm.campaign_id)), len(warm.item_ids))
                raw = Path(d) / "profile.txt"
                spy = subprocess.Popen([_py_spy(), "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
                                        "--output", str(raw), "--subprocesses"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1.0)
                c_srv, c_pg, c_me, t0 = _tree_cpu(pid), _postgres_cpu(), time.process_time(), time.perf_counter()
                res = _checked(asyncio.run(run_load(srv.base, s.tokens, s.campaign_id)), args.items)
                wall = time.perf_counter() - t0
                c_srv, c_pg, c_me = _tree_cpu(pid) - c_srv, _postgres_cpu() - c_pg, time.process_time() - c_me
                spy.send_signal(2)
                spy.wait(60)
            finally:
                srv.stop()
            cats, funcs, total = parse_raw(raw)
    finally:
        drop()
    n = res.cycles
    out = {"cycles": n, "cycles_per_s": round(n / wall, 1), **res.summary(), "workers": args.workers,
           "cpu_ms_per_cycle": {"server": round(c_srv * 1000 / n, 3), "postgres": round(c_pg * 1000 / n, 3),
                                "client": round(c_me * 1000 / n, 3)},
           "server_samples_by_category": {k: round(v / total, 3) for k, v in cats.most_common()},
           "top_functions": [[f, round(v / total, 4)] for f, v in funcs.most_common(args.top)],
           "load_average": os.getloadavg()}
    print(f"{n} cycles, {out['cycles_per_s']} cycles/s; CPU ms per cycle: {out['cpu_ms_per_cycle']}")
    for k, v in out["server_samples_by_category"].items():
        print(f"  {v:6.1%}  {k}")
    for f, v in out["top_functions"]:
        print(f"  {v:6.2%}  {f}")
    print(json.dumps({"bench": "profile_app", **out}))


if __name__ == "__main__":
    main()
