"""``pixmo gen clocks``: rendered analog and digital clocks as pixmo-clocks shards."""

from __future__ import annotations

import json
import os

import typer


def register(app: typer.Typer) -> None:
    app.command("clocks")(clocks)


def clocks(
    out: str = typer.Option(..., "--out", help="Output shard directory."),
    num: int = typer.Option(200, "--num", help="Number of examples."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives byte-identical shards."),
    workers: int = typer.Option(min(os.cpu_count() or 1, 8), "--workers", help="Parallel workers."),
    executor: str = typer.Option("local", "--executor", help="local (process pool) or ray."),
    per_shard: int = typer.Option(100, "--per-shard", help="Examples per shard."),
    split: str = typer.Option("train", "--split", help="train, validation or test (changes every seed)."),
    augment: bool = typer.Option(False, "--augment", help="Apply the section-5 training-time augmentation."),
    size: int = typer.Option(384, "--size", help="Canvas side in pixels."),
    per_face: int = typer.Option(5, "--per-face", help="Examples per watch face."),
    families: str = typer.Option("", "--families", help="Comma-separated face families (default: all)."),
    list_families: bool = typer.Option(False, "--list-families", help="Print the face families and exit."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the set already in --out."),
    append: bool = typer.Option(False, "--append", help="Add shards after the set already in --out."),
) -> None:
    """Render clocks and watch faces at random times, with pixmo-clocks records and Molmo's clock QA."""
    from generators.clocks.generate import ClockConfig, clock_shard
    from generators.clocks.spec import FAMILY_NAMES
    from generators.common import RunOptions
    from generators.runner import run
    from pixmo.shardset import write_mode

    if list_families:
        typer.echo("\n".join(FAMILY_NAMES))
        return
    # bad options raise ValueError: one ``error:`` line and exit status 2 from pixmo.cli.main
    cfg = ClockConfig(size=size, examples_per_face=per_face, augment=augment, split=split,
                      families=tuple(f.strip() for f in families.split(",") if f.strip()))
    opts = RunOptions(out=out, seed=seed, num=num, workers=workers, executor=executor, per_shard=per_shard,
                      split=split)
    summary = run(clock_shard, cfg, opts.tasks(), opts.out, dataset="pixmo-clocks", split=opts.split, seed=opts.seed,
                  workers=opts.workers, executor=opts.executor, progress=not quiet, mode=write_mode(overwrite, append))
    typer.echo(json.dumps({k: v for k, v in summary.items() if k != "stats"} | {"time_not_shown":
                           summary["stats"].get("time_not_shown", 0)}))
