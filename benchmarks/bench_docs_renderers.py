"""Docs throughput per renderer, for every renderer in ``RENDERERS``: the warm pipeline against a
fresh process per document, in one run.

Warm: one process renders the documents through its long-lived ``RenderContext`` (sandbox worker,
Chromium pool) after one warm-up document, one at a time (``warm docs/s``) and ``--threads`` at a
time (``pipeline docs/s``). Fresh: the same documents, each rendered by a new Python process that
imports the pipeline, starts its own sandbox and browser, renders the one document and exits (what
a per-document tool invocation costs). Both do the same work per document: the renderer's
``render(code, data)`` plus the image checks. Documents are the offline generator's own.

    .venv/bin/python benchmarks/bench_docs_renderers.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generators.docs.config import DocsConfig, RenderOptions, load_personas  # noqa: E402
from generators.docs.pipeline import DocJob, offline_content, plan_job, render_context  # noqa: E402
from generators.docs.renderers import RENDERERS, check_image  # noqa: E402
from generators.docs.sandbox import RenderError  # noqa: E402

FRESH = """
import json, sys
sys.path.insert(0, {root!r})
import numpy as np
from generators.docs.renderers import RENDERERS, RenderContext, check_image
from generators.docs.sandbox import Limits
job = json.load(open(sys.argv[1]))
ctx = RenderContext(Limits(timeout=60.0), rng=np.random.default_rng(job["seed"]))
check_image(RENDERERS[job["renderer"]].render(job["code"], job["data"], ctx))
ctx.close()
"""


def documents(renderer: str, n: int) -> list[DocJob]:
    cfg, personas = DocsConfig(renderers=(renderer,)), load_personas()
    jobs = []
    for i in range(n):
        job = plan_job(cfg, personas, 11, i)
        offline_content(job, np.random.default_rng([11, i, 1, 0]))
        jobs.append(job)
    return jobs


def render_warm(job: DocJob, ctx) -> None:
    check_image(RENDERERS[job.renderer].render(job.code, job.data, replace(ctx, rng=np.random.default_rng(job.index),
                                                                            drawn=[])))


def rendering(jobs: list[DocJob], n: int, ctx) -> tuple[list[DocJob], int]:
    """The first ``n`` documents that render and pass the image checks (the pipeline rejects the
    others too); returns them and how many were rejected on the way."""
    kept: list[DocJob] = []
    rejected = 0
    for j in jobs:
        try:
            render_warm(j, ctx)
        except RenderError:
            rejected += 1
            continue
        kept.append(j)
        if len(kept) == n:
            return kept, rejected
    raise SystemExit(f"{jobs[0].renderer}: only {len(kept)} of {len(jobs)} documents passed the image checks")


def time_warm(jobs: list[DocJob], ctx, threads: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda j: render_warm(j, ctx), jobs))
    return len(jobs) / (time.perf_counter() - t0)


def time_fresh(jobs: list[DocJob]) -> float:
    script = FRESH.format(root=str(ROOT))
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        for j in jobs:
            p = Path(d) / f"job{j.index}.json"
            p.write_text(json.dumps({"renderer": j.renderer, "code": j.code, "data": j.data, "seed": j.index}))
            subprocess.run([sys.executable, "-c", script, str(p)], check=True, capture_output=True, timeout=300)
        return len(jobs) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 warm and 2 fresh documents per renderer")
    ap.add_argument("--warm", type=int, default=8)
    ap.add_argument("--fresh", type=int, default=3)
    ap.add_argument("--threads", type=int, default=RenderOptions().threads)
    ap.add_argument("--renderers", default="", help="comma list (default: every renderer in RENDERERS)")
    args = ap.parse_args()
    n_warm, n_fresh = (4, 2) if args.quick else (args.warm, args.fresh)
    names = [r for r in args.renderers.split(",") if r] or list(RENDERERS)
    load_before = os.getloadavg()[0]
    ctx = render_context(RenderOptions(timeout=60.0))
    rows = []
    for r in names:
        t0 = time.perf_counter()
        jobs, rejected = rendering(documents(r, 3 * (n_warm + 1)), n_warm + 1, ctx)
        first = time.perf_counter() - t0  # the warm-up pass: starts the worker or browser, renders each once
        warm = time_warm(jobs[1:], ctx, 1)
        piped = time_warm(jobs[1:], ctx, args.threads)
        fresh = time_fresh(jobs[1:1 + n_fresh])
        rows.append({"renderer": r, "warm_docs_per_s": round(warm, 3), "pipeline_docs_per_s": round(piped, 3),
                     "fresh_docs_per_s": round(fresh, 3), "ratio_warm_vs_fresh": round(warm / fresh, 1),
                     "ratio_pipeline_vs_fresh": round(piped / fresh, 1), "warm_up_s": round(first, 2),
                     "rejected_in_warm_up": rejected})
        print(json.dumps(rows[-1]), flush=True)
    ctx.close()
    print(json.dumps({"renderers": len(rows), "warm_docs": n_warm, "fresh_docs": n_fresh, "threads": args.threads,
                      "load_avg_before": round(load_before, 2), "load_avg_after": round(os.getloadavg()[0], 2),
                      "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
