"""Run benchmarks on a backend and write the paper-style table (JSON + HTML).

    results = run_suite(backend, {"chartqa": "data/chartqa", ...}, out_dir="out/eval")
    -> {"benchmarks": {"chartqa": {"score": 57.3, "metrics": {...}, "n": 2500, ...}}, "avg11": ...}

Scores in the table are the headline metric of each benchmark x 100; the "11-avg" is the mean
over the paper's eleven when all eleven were run (otherwise the mean of those present is given
with their count). Each benchmark keeps up to ``n_failures`` wrong examples with their image.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model.bench_data import BenchmarkDataError
from model.benchmarks import ELEVEN, BenchItem, Benchmark, get_benchmark, load_benchmark


def score_items(bench: Benchmark, items: Sequence[BenchItem], outputs: Sequence[str], *, mode: str = "official"
                ) -> tuple[dict[str, float], list[dict[str, float]]]:
    """(averaged metrics, per-example rows) with ``model.metrics``."""
    import numpy as np

    from model.metrics import score_all

    rows = score_all(list(outputs), [it.example for it in items], bench.task, mode=mode)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    metrics = {k: float(np.mean([r[k] for r in rows if k in r])) for k in keys}
    return metrics, rows


def run_benchmark(backend, name: str, data: str | Path, *, mode: str = "official", max_examples: int | None = None,
                  n_failures: int = 4, fig_dir: Path | None = None, max_new_tokens: int | None = None,
                  split: str | None = None) -> dict[str, Any]:
    bench = get_benchmark(name)
    items = load_benchmark(name, data, max_examples=max_examples, split=split,
                           val_fraction=getattr(backend, "val_fraction", 0.1))
    t0 = time.time()
    outputs = backend.generate(items, max_new_tokens or bench.max_new_tokens)
    metrics, rows = score_items(bench, items, outputs, mode=mode)
    failures: list[dict[str, Any]] = []
    for i, (it, out, r) in enumerate(zip(items, outputs, rows, strict=True)):
        if len(failures) >= n_failures:
            break
        if r.get(bench.headline, 1.0) < 1.0:
            fig = _save_thumb(it, fig_dir / f"{bench.name}_{i}.jpg") if fig_dir is not None else None
            failures.append({"id": it.id, "prompt": it.prompt, "output": out, "answer": it.example.answer,
                             "score": r.get(bench.headline), "image": fig})
    return {"title": bench.title, "metric": bench.headline, "score": 100.0 * metrics.get(bench.headline, 0.0),
            "metrics": metrics, "n": len(items), "seconds": round(time.time() - t0, 2), "mode": mode,
            "failures": failures, "outputs": [{"id": it.id, "output": o} for it, o in zip(items, outputs,
                                                                                          strict=True)]}


def _save_thumb(item: BenchItem, path: Path) -> str | None:
    if item.image is None:
        return None
    from PIL import Image

    from model.preprocessing import load_image

    im = Image.fromarray(load_image(item.image))
    im.thumbnail((320, 320))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.convert("RGB").save(path, quality=85)
    return str(path.name)


def run_suite(backend, data: dict[str, str | Path], *, out_dir: str | Path, names: Sequence[str] | None = None,
              mode: str = "official", max_examples: int | None = None, n_failures: int = 4,
              max_new_tokens: int | None = None, split: str | None = None) -> dict[str, Any]:
    """Every benchmark of ``names`` (default: those in ``data``) with data; write results.json and
    report.html under ``out_dir`` (failure thumbnails in ``out_dir/failures``). A benchmark whose
    data is missing is listed as skipped with the reason."""
    out = Path(out_dir)
    fig_dir = out / "failures"
    results: dict[str, Any] = {"model": getattr(backend, "name", ""), "mode": mode, "benchmarks": {},
                               "skipped": {}}
    for name in names or list(data):
        bench = get_benchmark(name)
        if bench.name not in data:
            results["skipped"][bench.name] = "no data given"
            continue
        if bench.task == "caption" and not _judge_available():
            results["skipped"][bench.name] = "caption F1 needs an LLM judge: set PIXMO_LLM_BASE_URL"
            continue
        try:
            results["benchmarks"][bench.name] = run_benchmark(backend, bench.name, data[bench.name], mode=mode,
                                                              max_examples=max_examples, n_failures=n_failures,
                                                              fig_dir=fig_dir, max_new_tokens=max_new_tokens,
                                                              split=split)
        except BenchmarkDataError as exc:
            results["skipped"][bench.name] = str(exc)
    results.update(average(results["benchmarks"]))
    write_report(results, out)
    return results


def _judge_available() -> bool:
    from pixmo.llm import available

    return available()


def average(done: dict[str, Any]) -> dict[str, Any]:
    have = [n for n in ELEVEN if n in done]
    mean = sum(done[n]["score"] for n in have) / len(have) if have else None
    return {"avg11": mean if len(have) == len(ELEVEN) else None, "avg_present": mean, "avg_count": len(have)}


def write_report(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """results.json (without the full outputs, which go to outputs.json) and report.html."""
    out_dir.mkdir(parents=True, exist_ok=True)
    slim = {**results, "benchmarks": {k: {kk: vv for kk, vv in v.items() if kk != "outputs"}
                                      for k, v in results["benchmarks"].items()}}
    j = out_dir / "results.json"
    j.write_text(json.dumps(slim, indent=2))
    (out_dir / "outputs.json").write_text(json.dumps({k: v["outputs"] for k, v in results["benchmarks"].items()},
                                                     indent=1))
    h = out_dir / "report.html"
    h.write_text(render_html(slim))
    return j, h


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(benchmark, metric, score, n) rows of the paper-style table, the average last."""
    rows = [(v["title"], v["metric"], f"{v['score']:.1f}", str(v["n"])) for v in results["benchmarks"].values()]
    if results.get("avg11") is not None:
        rows.append(("11-avg", "mean of the 11", f"{results['avg11']:.1f}", ""))
    elif results.get("avg_present") is not None:
        rows.append((f"avg ({results['avg_count']} of the 11)", "mean", f"{results['avg_present']:.1f}", ""))
    return rows


def render_html(results: dict[str, Any]) -> str:
    e = html.escape
    body = [f"<h1>Benchmarks: {e(str(results.get('model', '')))}</h1>",
            f"<p>metrics mode: <b>{e(results['mode'])}</b> (official = the published evaluators)</p>",
            "<table border=1 cellpadding=4><tr><th>benchmark</th><th>metric</th><th>score</th><th>n</th></tr>"]
    body += [f"<tr><td>{e(a)}</td><td>{e(b)}</td><td align=right>{e(c)}</td><td align=right>{e(d)}</td></tr>"
             for a, b, c, d in table_rows(results)]
    body.append("</table>")
    if results.get("skipped"):
        body.append("<h2>Skipped</h2><ul>" + "".join(f"<li>{e(k)}: {e(v)}</li>"
                                                      for k, v in results["skipped"].items()) + "</ul>")
    for v in results["benchmarks"].values():
        if not v["failures"]:
            continue
        body.append(f"<h2>{e(v['title'])}: example failures</h2><table border=1 cellpadding=4>"
                    "<tr><th>image</th><th>prompt</th><th>output</th><th>answer</th><th>score</th></tr>")
        for f in v["failures"]:
            img = f"<img src='failures/{e(f['image'])}' width=160>" if f.get("image") else ""
            body.append(f"<tr><td>{img}</td><td><pre>{e(f['prompt'])}</pre></td><td><pre>{e(f['output'])}</pre>"
                        f"</td><td>{e(str(f['answer']))}</td><td>{f['score']}</td></tr>")
        body.append("</table>")
    return "<!doctype html><meta charset=utf-8><title>benchmarks</title>\n" + "\n".join(body) + "\n"


def data_map(specs: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    """``--data`` values: ``NAME=PATH`` pairs, or one root folder with a sub-folder per benchmark
    (named like the benchmark), or, for a single benchmark, its path (or hub id)."""
    out: dict[str, str] = {}
    roots = []
    for s in specs:
        key, sep, val = s.partition("=")
        if sep and key.replace("-", "_").lower() in {n.replace("-", "_") for n in _all_names()}:
            out[get_benchmark(key).name] = val
        else:
            roots.append(s)
    for r in roots:
        if len(names) == 1 and get_benchmark(names[0]).name not in out:
            out[get_benchmark(names[0]).name] = r
            continue
        for n in names:
            sub = Path(r) / get_benchmark(n).name
            if sub.exists() and get_benchmark(n).name not in out:
                out[get_benchmark(n).name] = str(sub)
    return out


def _all_names() -> list[str]:
    from model.benchmarks import BENCHMARKS

    return list(BENCHMARKS)
