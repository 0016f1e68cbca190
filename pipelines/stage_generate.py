"""Demo stages that run the synthetic generators through their CLIs (`pixmo gen clocks|count|docs`).

Each generator runs in its own process with its own progress bar; a generator package that does
not import fails its stage.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from pipelines.report import find_shard_dirs
from pipelines.stages import Context, Stage

ROOT = Path(__file__).resolve().parents[1]
OVERWRITE_FLAG = {"clocks", "count"}  # generator CLIs that accept --overwrite (pixmo.shardset)


def _gen(ctx: Context, name: str, args: list[str], timeout: float, out_name: str = "") -> Path:
    mod = importlib.import_module(f"generators.{name}.cli")  # a broken generator fails loudly
    if not hasattr(mod, "register"):
        raise RuntimeError(f"generators.{name}.cli has no register(app)")
    out = ctx.out / "shards" / (out_name or name)
    # the demo owns its output folder: a stage replaces the set it made before (another preset)
    own = ["--overwrite"] if name in OVERWRITE_FLAG else []
    cmd = [sys.executable, "-m", "pixmo.cli", "gen", name, "--out", str(out), *own, *args]
    ctx.console.print(" ".join(["pixmo", *cmd[3:]]), style="dim", markup=False)
    proc = subprocess.run(cmd, cwd=ROOT, timeout=timeout, stdout=sys.stdout, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pixmo gen {name} exited with {proc.returncode}: {proc.stderr[-800:]}")
    return out


def _register(ctx: Context, label: str, out: Path) -> int:
    dirs = find_shard_dirs(out)
    if not dirs:
        raise RuntimeError(f"{out}: no manifest.json was written")
    n = 0
    for sub, path in dirs:
        name = label if sub == out.name else f"{label} {sub}"
        ctx.datasets[name] = path
        n += 1
    return n


def stage_clocks(ctx: Context) -> str:
    c = ctx.config
    out = _gen(ctx, "clocks", ["--num", str(c.clocks), "--workers", "2", "--per-shard", str(c.shard_size),
                               "--seed", str(c.seed), "--size", "256"], timeout=300)
    _register(ctx, "clocks (synthetic)", out)
    return f"{c.clocks} clocks -> {out}"


def stage_count(ctx: Context) -> str:
    c = ctx.config
    out = _gen(ctx, "count", ["--eval-per-count", str(c.count_eval_per_count), "--workers", "2",
                              "--seed", str(c.seed)], timeout=300)
    n = _register(ctx, "count (bundled images)", out)
    return f"count sets ({n} shard dirs) -> {out}"


def stage_count_mosaic(ctx: Context) -> str:
    """Face mosaics with 1-4 faces, labelled by the Count generator's detector: the training stage's task."""
    c = ctx.config
    out = _gen(ctx, "count", ["--mosaic", str(c.count_mosaic), "--mosaic-max", "4", "--eval-per-count",
                              str(c.count_eval_per_count), "--workers", "2", "--seed", str(c.seed)],
               timeout=400, out_name="count_mosaic")
    n = _register(ctx, "count mosaic", out)
    return f"{c.count_mosaic} face mosaics ({n} shard dirs) -> {out}"


def stage_docs(ctx: Context) -> str:
    c = ctx.config
    out = _gen(ctx, "docs", ["--num", str(c.docs), "--workers", "1", "--seed", str(c.seed),
                             "--renderers", c.docs_renderers], timeout=400)
    _register(ctx, "docs (synthetic)", out)
    return f"{c.docs} documents ({c.docs_renderers}) -> {out}"


def generate_stages() -> list[Stage]:
    return [
        Stage("clocks", stage_clocks, "pixmo gen clocks"),
        Stage("count", stage_count, "pixmo gen count (OpenCV detectors on bundled images)"),
        Stage("count_mosaic", stage_count_mosaic, "pixmo gen count --mosaic (face mosaics, 1-4 faces)"),
        Stage("docs", stage_docs, "pixmo gen docs (offline template bank)"),
    ]
