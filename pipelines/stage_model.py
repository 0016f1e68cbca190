"""Demo stages after the data: a mixture of everything made so far, a tiny Molmo trained on it on
CPU (`pixmo model train`), and its evaluation (`pixmo model eval`)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipelines.stages import Context, Skip, Stage

ROOT = Path(__file__).resolve().parents[1]

# Molmo's style per source (docs/spec/molmo.md 6.2); None: the model's default style for each subset.
STYLES = {"clocks": None, "count": "point_count", "docs": None, "bundled": None, "annotation": "pointing"}


def _style(name: str) -> str | None:
    return next((v for k, v in STYLES.items() if name.startswith(k)), None)


def stage_mix(ctx: Context) -> str:
    """Square-root-of-size rates over every training shard set made so far, materialised."""
    from pipelines.mix import materialise
    from pixmo.mixture import MixtureConfig, MixtureSource
    from pixmo.shards import read_manifest

    sources = []
    for name, path in ctx.datasets.items():
        if name.startswith("mixture") or "validation" in name or "test" in name or "candidates" in name:
            continue
        if read_manifest(path)["num_samples"] > 0:
            safe = "".join(c if c.isalnum() else "_" for c in name)
            sources.append(MixtureSource(name=safe, path=path, cap=500, style=_style(name)))
    if not sources:
        raise Skip("upstream", "no shard sets to mix")
    cfg = MixtureConfig(sources)
    (ctx.path("mixture_config.json")).write_text(json.dumps(cfg.to_json(), indent=2))
    out = ctx.out / "shards" / "mixture"
    summary = materialise(cfg, out, ctx.config.mix_samples, ctx.config.seed, progress=ctx.progress,
                          mode="overwrite")  # the demo owns its output folder
    ctx.results["mixture"] = summary
    ctx.results["mixture_dir"] = str(out)
    rows = "".join(f"<tr><td>{s['name']}</td><td>{s['size']}</td><td>{s['rate']:.3f}</td><td>{s['drawn']}</td>"
                   f"<td>{s['style'] or ''}</td></tr>" for s in summary["sources"])
    ctx.results.setdefault("report_sections", []).append((
        "Mixture", f"<p>{summary['num']} draws, {summary['unique_images']} distinct images (rates: square root "
                   f"of size, capped at 500).</p><table><tr><th>source</th><th>size</th><th>rate</th><th>drawn</th>"
                   f"<th>style</th></tr>{rows}</table>"))
    return f"{len(sources)} sources, {summary['num']} draws, {summary['unique_images']} images -> {out}"


def _run(ctx: Context, args: list[str], timeout: float) -> list[float]:
    """Run `pixmo model ...`, echoing its output; returns when each "step" line appeared."""
    cmd = [sys.executable, "-m", "pixmo.cli", "model", *args]
    ctx.console.print(" ".join(["pixmo", "model", *args]), style="dim", markup=False)
    err = open(ctx.path("logs", f"model_{args[0]}.stderr"), "w+")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
    stamps, t0 = [], time.monotonic()
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        if line.startswith("step"):
            stamps.append(time.monotonic())
        if time.monotonic() - t0 > timeout:
            proc.kill()
    if proc.wait() != 0:
        err.seek(0)
        raise RuntimeError(f"pixmo model {args[0]} exited with {proc.returncode}: {err.read()[-1200:]}")
    return stamps


def _steps_for(ctx: Context, sets: list[str]) -> int:
    """Steps that fit the time budget, timed on a 4-step probe run (the schedule then spans them)."""
    probe = [*sets, f"out_dir={ctx.out / 'model_probe'}", "max_steps=4", "log_every=1", "eval_examples=1"]
    stamps = _run(ctx, _train_args(probe), timeout=600)
    per_step = (stamps[-1] - stamps[1]) / (len(stamps) - 2) if len(stamps) >= 3 else 5.0
    steps = int(ctx.config.train_minutes * 60 / max(per_step, 0.05))
    ctx.console.print(f"probe: {per_step:.2f} s/step -> {min(steps, ctx.config.train_steps)} steps")
    return max(4, min(ctx.config.train_steps, steps))


def _train_args(sets: list[str]) -> list[str]:
    """`pixmo model train` on the tiny config with these settings (later ones win)."""
    return ["train", "--config", "tiny", *(a for s in sets for a in ("--set", s))]


MOSAIC = "count mosaic train"  # the Count generator's face mosaics (stage count_mosaic)


def _train_set(ctx: Context) -> str:
    """The counting task on the generator's face mosaics when they were made, else the mixture.

    The mosaic train split is copied with each annotation tagged ``point_count`` (as a mixture
    source would be), so the model answers with points and a count; its hash-held-out part
    (``holdout_fraction``) is the evaluation split."""
    from pipelines.mix import _tagged
    from pixmo.records import PixmoCount
    from pixmo.shards import ShardWriter, iter_samples

    if MOSAIC not in ctx.datasets:
        if "mixture_dir" not in ctx.results:
            raise Skip("upstream", "no mixture to train on (the mix stage did not run)")
        return ctx.results["mixture_dir"]
    out = ctx.out / "shards" / "count_mosaic_point_count"
    counts = set()
    with ShardWriter(out, dataset="count-mosaic-point-count", max_count=1000, resume=False, mode="overwrite") as w:
        for s in iter_samples(ctx.datasets[MOSAIC]):
            rec = s.annotations[0].record
            if not isinstance(rec, PixmoCount):
                raise ValueError(f"{ctx.datasets[MOSAIC]}: expected pixmo-count records, found {rec.SUBSET}")
            counts.add(rec.count)
            w.write(_tagged(s, "count_mosaic", "point_count"))
    ctx.results["count_values"] = sorted(counts)
    return str(out)


def stage_train(ctx: Context) -> str:
    train_dir = _train_set(ctx)
    ctx.results["train_dir"] = train_dir
    b = ctx.config.train_batch
    sets = [f"train_shards={train_dir}", f"out_dir={ctx.out / 'model'}", "max_new_tokens=80", "eval_examples=1",
            "log_every=10", "save_every=0", "resume=false", "tensorboard=false", f"seed={ctx.config.seed}",
            f"global_batch_size={b}", f"micro_batch_size={min(8, b)}"]
    steps = _steps_for(ctx, sets) if ctx.config.train_steps > 10 else ctx.config.train_steps
    warm = max(1, steps // 10)
    sets += [f"max_steps={steps}", f"log_every={max(1, min(10, steps // 20))}",
             *(f"optim.{c}_warmup={warm}" for c in ("connector", "vit", "llm"))]
    _run(ctx, _train_args(sets), timeout=max(600, ctx.config.train_minutes * 60 * 3))
    hist = json.loads((ctx.out / "model" / "history.json").read_text())
    steps_l = [int(h["step"]) for h in hist]
    ctx.results["curve"] = {"steps": steps_l, "series": {"loss": [float(h["loss"]) for h in hist]}}
    first, last = hist[0]["loss"], hist[-1]["loss"]
    ctx.results.setdefault("metrics", {}).update({"train steps": len(hist), "train loss (first step)": first,
                                                  "train loss (last step)": last})
    what = "face-mosaic counting" if "count_values" in ctx.results else "the mixture"
    return f"{len(hist)} steps on CPU ({what}), loss {first:.3f} -> {last:.3f}, checkpoint in {ctx.out / 'model'}"


def stage_evaluate(ctx: Context) -> str:
    model_dir = ctx.out / "model"
    if not (model_dir / "history.json").exists():
        raise Skip("upstream", "no trained model (the train stage did not run)")
    out = ctx.out / "eval.json"
    _run(ctx, ["eval", str(model_dir), ctx.results["train_dir"], "--split", "val", "--max-examples",
               str(ctx.config.eval_samples), "--max-new-tokens", "80", "--out", str(out)], timeout=600)
    res = json.loads(out.read_text())
    flat = {f"eval {k}": v for k, v in _flatten(res).items() if isinstance(v, int | float) and not _nan(v)}
    ctx.results.setdefault("metrics", {}).update(flat)
    acc = res.get("accuracy")
    values = ctx.results.get("count_values")
    if values and isinstance(res.get("counting/correct"), float):
        return _counting_summary(ctx, res, values)
    return f"held-out evaluation: {len(flat)} metrics" + (f", accuracy {acc:.3f}" if isinstance(acc, float) else "")


BENCH_ON_SHARDS = ("pixmo_count", "pixmo_points_eval", "clocks")  # benchmarks toolkit shards can feed


def stage_benchmarks(ctx: Context) -> str:
    """`pixmo model eval --suite paper` on the held-out split of the training shards: the same table
    format as for the paper's benchmarks (benchmarks without data are listed as skipped)."""
    from model.bench_run import table_rows

    model_dir = ctx.out / "model"
    if not (model_dir / "history.json").exists() or "train_dir" not in ctx.results:
        raise Skip("upstream", "no trained model (the train stage did not run)")
    out = ctx.out / "benchmarks"
    data = [a for b in BENCH_ON_SHARDS for a in ("--data", f"{b}={ctx.results['train_dir']}")]
    _run(ctx, ["eval", str(model_dir), "--suite", "paper", *data, "--split", "val", "--out-dir", str(out),
               "--max-examples", str(ctx.config.eval_samples), "--max-new-tokens", "80"], timeout=900)
    res = json.loads((out / "results.json").read_text())
    if not res["benchmarks"]:
        raise Skip("upstream", "no held-out examples of " + ", ".join(BENCH_ON_SHARDS))
    rows = "".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td><td>{d}</td></tr>" for a, b, c, d in table_rows(res))
    ctx.results.setdefault("report_sections", []).append((
        "Benchmarks (paper table format)",
        f"<p>The tiny Molmo on the held-out split of its training shards, scored with the official "
        f"evaluators' metrics, at most {ctx.config.eval_samples} examples each and 80 new tokens "
        f"(<code>pixmo model eval --suite paper</code>; full table with failures: {out / 'report.html'}).</p>"
        f"<table><tr><th>benchmark</th><th>metric</th><th>score</th><th>n</th></tr>{rows}</table>"))
    ctx.results.setdefault("metrics", {}).update({f"benchmark {v['title']}": v["score"]
                                                  for v in res["benchmarks"].values()})
    return ", ".join(f"{v['title']} {v['score']:.1f} (n={v['n']})" for v in res["benchmarks"].values())


def _counting_summary(ctx: Context, res: dict[str, Any], values: list[int]) -> str:
    """Counting accuracy on the held-out mosaics against chance (one over the number of count values)."""
    acc, chance, n = res["counting/correct"], 1.0 / len(values), int(res.get("n", 0))
    ctx.results["metrics"].update({"held-out counting accuracy": acc, "chance (1 / count values)": chance})
    per = "".join(f"<tr><td>{v}</td><td>{res[f'counting/correct_{v}']:.2f}</td></tr>"
                  for v in values if isinstance(res.get(f"counting/correct_{v}"), float))
    ctx.results.setdefault("report_sections", []).append((
        "Counting: tiny Molmo on generator mosaics",
        f"<p>The tiny Molmo was trained from scratch on CPU on the Count generator's face mosaics "
        f"(<code>pixmo gen count --mosaic</code>; records labelled by the OpenCV detector, style "
        f"<code>point_count</code>). On {n} held-out mosaics it counts correctly "
        f"<b>{acc:.1%}</b> of the time; chance is {chance:.1%} (1 / {len(values)} count values "
        f"{values}). The loss curve is above.</p><table><tr><th>count</th><th>accuracy</th></tr>{per}</table>"))
    return f"held-out counting accuracy {acc:.3f} on {n} mosaics (chance {chance:.3f})"


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        elif not isinstance(v, list):
            out[f"{prefix}{k}"] = v
    return out


def model_stages() -> list[Stage]:
    return [
        Stage("mix", stage_mix, "square-root mixture of all shard sets"),
        Stage("train", stage_train, "tiny Molmo on CPU"),
        Stage("evaluate", stage_evaluate, "held-out split of the mixture"),
        Stage("benchmarks", stage_benchmarks, "paper-style benchmark table on held-out sets"),
    ]
