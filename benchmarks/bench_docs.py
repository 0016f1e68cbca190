"""Docs rendering throughput: the long-lived pool (one Chromium with a page pool, a warm sandbox
worker, a warm vl-convert worker) against the reference approach, in one run.

Baselines: for HTML, Plotly and Mermaid, a fresh Chromium per page with a fixed 2 s wait (what the
reference generator did); for Matplotlib, Vega-Lite, LaTeX and Graphviz, a fresh process per page
(Python renderers: a new interpreter importing the libraries; LaTeX/Graphviz: the tools run directly,
no sandbox, so that ratio is the sandbox's overhead). Pages are the offline generator's own code.

    .venv/bin/python benchmarks/bench_docs.py --quick
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
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generators.docs import templates  # noqa: E402
from generators.docs.browser import (  # noqa: E402
    CHROMIUM_ARGS,
    _block_network,
    chromium_path,
    mermaid_js_path,
    plotly_js_path,
)
from generators.docs.config import RenderOptions, load_personas  # noqa: E402
from generators.docs.pipeline import DocJob, offline_content, render_context  # noqa: E402
from generators.docs.renderers import RENDERERS  # noqa: E402

BROWSER = ("html", "plotly", "mermaid")


def make_pages(renderer: str, n: int) -> list[DocJob]:
    personas = load_personas()
    jobs = []
    for i in range(n):
        rng = np.random.default_rng([7, i])
        cat = RENDERERS[renderer].categories[i % len(RENDERERS[renderer].categories)]
        ft = templates.FIGURES[renderer][cat][i % len(templates.FIGURES[renderer][cat])]
        job = DocJob(i, 7, renderer, cat, personas[i % len(personas)].persona, None, ft)
        offline_content(job, rng)
        jobs.append(job)
    return jobs


def time_pool(renderer: str, jobs: list[DocJob], ctx) -> float:
    """Pages/s through the long-lived context, after one warm-up page (startup reported separately)."""
    RENDERERS[renderer].render(jobs[0].code, jobs[0].data, ctx)
    t0 = time.perf_counter()
    for j in jobs:
        RENDERERS[renderer].render(j.code, j.data, replace(ctx, rng=np.random.default_rng(j.index)))
    return len(jobs) / (time.perf_counter() - t0)


async def _fresh_browser_page(kind: str, payload) -> bytes:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        page = await b.new_page(viewport={"width": 1000, "height": 700})
        await page.route("**/*", _block_network)
        if kind == "html":
            await page.set_content(payload)
        else:
            await page.set_content("<div id='plot'></div>")
            lib = plotly_js_path() if kind == "plotly" else mermaid_js_path()
            await page.add_script_tag(path=str(lib))
            if kind == "plotly":
                await page.evaluate("f => Plotly.newPlot('plot', f.data, f.layout)", payload)
            else:
                await page.evaluate("async c => { mermaid.initialize({startOnLoad: false});"
                                    " const {svg} = await mermaid.render('m', c);"
                                    " document.getElementById('plot').innerHTML = svg; }", payload)
        await page.wait_for_timeout(2000)  # the reference's fixed sleep
        png = await page.screenshot(full_page=True)
        await b.close()
        return png


def _payload(renderer: str, job: DocJob, ctx):
    if renderer == "plotly":
        files = {"code.py": job.code, "data.csv": job.data}
        return json.loads(ctx.sandbox.run("python", files, ("out.json",), mode="plotly")["out.json"])
    return job.code


def time_baseline(renderer: str, jobs: list[DocJob], ctx) -> float:
    if renderer in BROWSER:
        payloads = [_payload(renderer, j, ctx) for j in jobs]  # plotly: the figure JSON, made outside the timing
        t0 = time.perf_counter()
        for p in payloads:
            asyncio.run(_fresh_browser_page(renderer, p))
        return len(jobs) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for j in jobs:
        with tempfile.TemporaryDirectory() as d:
            if renderer in ("matplotlib", "vegalite"):
                name = "code.py" if renderer == "matplotlib" else "spec.json"
                Path(d, name).write_text(j.code)
                Path(d, "data.csv").write_text(j.data)
                call = "_run_python({'mode': 'plot'})" if renderer == "matplotlib" else "_run_vegalite({'scale': 2})"
                code = f"import os; os.chdir({d!r}); import generators.docs._zygote as z; z.{call}"
                subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True,
                               env=dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg"))
            elif renderer == "latex":
                Path(d, "doc.tex").write_text(j.code)
                subprocess.run(["pdflatex", "-interaction=nonstopmode", "doc.tex"], cwd=d, check=True, capture_output=True)
                subprocess.run(["pdftoppm", "-png", "-r", "150", "-singlefile", "doc.pdf", "page"], cwd=d, check=True)
            else:
                Path(d, "g.dot").write_text(j.code)
                subprocess.run(["dot", "-Tpng", "-o", "out.png", "g.dot"], cwd=d, check=True)
    return len(jobs) / (time.perf_counter() - t0)


def sandbox_overhead(n: int) -> tuple[float, float]:
    """HTML pages/s through a pool whose Chromium runs in the jail, and one whose Chromium does not
    (same pages, same pool code): the difference is the sandbox's cost per page."""
    from generators.docs.browser import BrowserPool

    jobs = make_pages("html", n)
    rates = []
    for exe in (None, chromium_path()):
        pool = BrowserPool(executable=exe)
        pool.render("html", jobs[0].code, width=1000, height=600)
        t0 = time.perf_counter()
        for j in jobs:
            pool.render("html", j.code, width=1000, height=600)
        rates.append(n / (time.perf_counter() - t0))
        pool.close()
    return rates[0], rates[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer pages (finishes in under 2 minutes)")
    ap.add_argument("--renderers", default="matplotlib,plotly,vegalite,latex,html,mermaid,graphviz",
                    help="the seven with baselines here (bench_docs_pyrend.py times the others)")
    args = ap.parse_args()
    n_pool, n_base = (4, 1) if args.quick else (30, 5)
    ctx = render_context(RenderOptions())
    t0 = time.perf_counter()
    _ = ctx.browser.render("html", "<p>warm</p>")
    startup = time.perf_counter() - t0
    rows, figures = [], {"browser_startup_s": round(startup, 2)}
    for r in args.renderers.split(","):
        jobs = make_pages(r, n_pool)
        pool = time_pool(r, jobs, ctx)
        base = time_baseline(r, jobs[:n_base + (r == "html")], ctx)
        rows.append((r, pool, base, pool / base))
        figures[f"{r}_pool_pages_s"] = round(pool, 2)
        figures[f"{r}_baseline_pages_s"] = round(base, 3)
        figures[f"{r}_speedup"] = round(pool / base, 1)
    ctx.close()
    ctx.browser.close()
    if "html" in args.renderers.split(","):
        jailed, bare = sandbox_overhead(n_pool * 2)
        figures["html_jailed_pages_s"], figures["html_unjailed_pages_s"] = round(jailed, 2), round(bare, 2)
        figures["html_sandbox_overhead_ms_per_page"] = round(1000 / jailed - 1000 / bare, 1)
        print(f"html sandbox overhead: {1000 / jailed:.1f} ms/page jailed vs {1000 / bare:.1f} ms/page unjailed")
    print(f"one-off Chromium + first page: {startup:.2f} s (paid once per worker process)")
    print(f"{'renderer':<11} {'pool pages/s':>12} {'baseline pages/s':>17} {'ratio':>7}  baseline")
    for r, pool, base, ratio in rows:
        how = "fresh Chromium + 2 s wait" if r in BROWSER else "fresh process per page" if r in (
            "matplotlib", "vegalite") else "tool run directly, no sandbox"
        print(f"{r:<11} {pool:>12.2f} {base:>17.3f} {ratio:>6.1f}x  {how}")
    figures["target_html_speedup"] = 20
    figures["html_target_met"] = figures.get("html_speedup", 0) >= 20
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
