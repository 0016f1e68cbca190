"""TeX-family and music renderers: seconds per document through the sandbox (one warm worker; every
document is a fresh pdflatex / asy / lilypond process inside the jail, then pdftoppm and pdftotext)
against the same tools run directly on the host in a fresh temp dir (the fresh-process baseline, no
sandbox), on the offline generator's own documents, in one run. The load average is printed.

    .venv/bin/python benchmarks/bench_docs_tex.py --n 4
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generators.docs import templates  # noqa: E402
from generators.docs.config import load_personas  # noqa: E402
from generators.docs.pipeline import DocJob, offline_content  # noqa: E402
from generators.docs.renderers import RENDERERS, RenderContext  # noqa: E402
from generators.docs.renderers_tex import ASY_DPI, LILYPOND_DPI, PDFLATEX, TIKZ_DPI  # noqa: E402
from generators.docs.sandbox import Limits  # noqa: E402

# renderer -> (source file, build command, PDF it writes, dpi): the direct baseline runs the same steps
CASES = {
    "tikz": ("doc.tex", f"{PDFLATEX} doc.tex", "doc.pdf", TIKZ_DPI),
    "asymptote": ("doc.asy", "asy -safe -noV -offscreen -f pdf -o fig doc.asy", "fig.pdf", ASY_DPI),
    "lilypond": ("doc.ly", "lilypond -dno-point-and-click --pdf -o score doc.ly", "score.pdf", LILYPOND_DPI),
    "latex": ("doc.tex", f"{PDFLATEX} doc.tex", "doc.pdf", 150),
}
LATEX_NEW = ("booktabs table", "multirow table", "derivation")


def make_docs(renderer: str, n: int) -> list[DocJob]:
    personas = load_personas()
    figs = [(c, f) for c, fs in templates.FIGURES[renderer].items() for f in fs
            if renderer != "latex" or f in LATEX_NEW]
    jobs = []
    for i in range(n):
        cat, ft = figs[i % len(figs)]
        job = DocJob(i, 7, renderer, cat, personas[i % len(personas)].persona, None, ft)
        offline_content(job, np.random.default_rng([7, i]))
        jobs.append(job)
    return jobs


def time_sandbox(renderer: str, jobs: list[DocJob], ctx: RenderContext) -> float:
    """Seconds per document through the warm sandbox worker (after one warm-up document)."""
    RENDERERS[renderer].render(jobs[0].code, jobs[0].data, replace(ctx, drawn=[]))
    t0 = time.perf_counter()
    for j in jobs:
        RENDERERS[renderer].render(j.code, j.data, replace(ctx, drawn=[], rng=np.random.default_rng(j.index)))
    return (time.perf_counter() - t0) / len(jobs)


def time_direct(renderer: str, jobs: list[DocJob]) -> tuple[float, float]:
    """(wall, CPU) seconds per document: the same build, pdftoppm and pdftotext run directly (no
    sandbox). CPU time (user + system of the finished child processes) hardly depends on the load."""
    src, build, pdf, dpi = CASES[renderer]
    script = (f"{build} && pdftoppm -png -r {dpi} -f 1 -l 1 -singlefile {pdf} page && "
              f"pdftotext -f 1 -l 1 -bbox-layout {pdf} words.html")
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    for j in jobs:
        with tempfile.TemporaryDirectory() as d:
            Path(d, src).write_text(j.code)
            subprocess.run(["sh", "-c", script], cwd=d, check=True, capture_output=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return (time.perf_counter() - t0) / len(jobs), cpu / len(jobs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4, help="documents per renderer")
    ap.add_argument("--renderers", default=",".join(CASES))
    args = ap.parse_args()
    ctx = RenderContext(Limits(timeout=120.0))
    out: dict[str, object] = {"load_average_start": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}
    print(f"{'renderer':<10} {'sandbox s/doc':>13} {'direct s/doc':>13} {'ratio':>6} {'direct CPU s/doc':>17}")
    for r in args.renderers.split(","):
        jobs = make_docs(r, args.n)
        sb, (direct, cpu) = time_sandbox(r, jobs, ctx), time_direct(r, jobs)
        out[f"{r}_sandbox_s_per_doc"], out[f"{r}_direct_s_per_doc"] = round(sb, 2), round(direct, 2)
        out[f"{r}_sandbox_over_direct"], out[f"{r}_direct_cpu_s_per_doc"] = round(sb / direct, 2), round(cpu, 2)
        print(f"{r:<10} {sb:>13.2f} {direct:>13.2f} {sb / direct:>6.2f} {cpu:>17.2f}")
    ctx.close()
    out["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
