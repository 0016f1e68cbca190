"""Throughput of the renderers in generators/docs/renderers_py.py against a fresh process per page, in one run.

Pool: the generator's long-lived context (a warm sandbox worker with schemdraw/rdkit/docx imported, one
jailed Chromium with reused pages), one warm-up page first. Baselines, per page:
- schemdraw, rdkit: a fresh Python interpreter importing the libraries and running the page's code
  (no sandbox);
- docx: a fresh Python interpreter building the .docx, then LibreOffice (fresh profile) and pdftoppm run
  directly (no sandbox);
- svg, webscreen: a fresh Chromium per page with a fixed 2 s wait (the reference generator's approach).
Pages are the offline generator's own documents.

    .venv/bin/python benchmarks/bench_docs_pyrend.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_docs import _fresh_browser_page, make_pages, time_pool  # noqa: E402

from generators.docs.config import RenderOptions  # noqa: E402
from generators.docs.pipeline import DocJob, render_context  # noqa: E402
from generators.docs.renderers_py import svg_page  # noqa: E402

RENDERERS = ("schemdraw", "rdkit", "docx", "svg", "webscreen")


def _fresh_python(job: DocJob, d: str, mode: str) -> None:
    Path(d, "code.py").write_text(job.code)
    Path(d, "data.json").write_text(job.data)
    code = f"import os; os.chdir({d!r}); import generators.docs._zygote as z; z._run_python({{'mode': {mode!r}}})"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg"))


def time_baseline(renderer: str, jobs: list[DocJob]) -> float:
    t0 = time.perf_counter()
    for j in jobs:
        if renderer in ("svg", "webscreen"):
            asyncio.run(_fresh_browser_page("html", svg_page(j.code)[0] if renderer == "svg" else j.code))
            continue
        with tempfile.TemporaryDirectory() as d:
            _fresh_python(j, d, "docx" if renderer == "docx" else "diagram")
            if renderer == "docx":
                subprocess.run(["soffice", f"-env:UserInstallation=file://{d}/lo", "--headless", "--norestore",
                                "--convert-to", "pdf", "out.docx"], cwd=d, check=True, capture_output=True)
                subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", "out.pdf", "page"],
                               cwd=d, check=True)
    return len(jobs) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 pool pages and 1 baseline page per renderer")
    ap.add_argument("--renderers", default=",".join(RENDERERS))
    args = ap.parse_args()
    n_pool, n_base = (4, 1) if args.quick else (12, 3)
    ctx = render_context(RenderOptions())
    figures: dict[str, float] = {"load_average_1min": round(os.getloadavg()[0], 1)}
    print(f"{'renderer':<10} {'pool pages/s':>12} {'ms/page':>8} {'baseline pages/s':>17} {'ratio':>7}")
    for r in args.renderers.split(","):
        jobs = make_pages(r, n_pool)
        pool = time_pool(r, jobs, ctx)
        base = time_baseline(r, jobs[:n_base])
        figures.update({f"{r}_pool_pages_s": round(pool, 3), f"{r}_ms_per_page": round(1000 / pool),
                        f"{r}_baseline_pages_s": round(base, 3), f"{r}_speedup": round(pool / base, 1)})
        print(f"{r:<10} {pool:>12.2f} {1000 / pool:>8.0f} {base:>17.3f} {pool / base:>6.1f}x", flush=True)
    ctx.close()
    figures["load_average_1min_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
