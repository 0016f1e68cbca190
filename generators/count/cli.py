"""``pixmo gen count``: PixMo-Count style data from a detector over your images."""

from __future__ import annotations

import json
import os

import typer

MIN_TASKS = 8  # candidate shards a small input is cut into (the default --workers is at most 8)


def register(app: typer.Typer) -> None:
    app.command("count")(count)


def count(
    out: str = typer.Option(..., "--out", help="Output folder: candidates/, train/, validation/, test/."),
    images: str = typer.Option("", "--images", help="A folder of images (searched recursively)."),
    urls: str = typer.Option("", "--urls", help="A text file with one image URL per line."),
    shards: str = typer.Option("", "--shards", help="A shard directory (or .tar) whose images to use."),
    detector: str = typer.Option("opencv", "--detector", help="opencv, or hf:<model name or local path>."),
    threshold: float = typer.Option(0.3, "--threshold", help="Score threshold for hf detectors."),
    queries: str = typer.Option("", "--queries", help="Comma-separated labels for open-vocabulary detectors."),
    eval_per_count: int = typer.Option(60, "--eval-per-count", help="Validation/test images per count 2-10."),
    max_per_count: int = typer.Option(0, "--max-per-count", help="Train cap per count (0: median)."),
    mosaic: int = typer.Option(0, "--mosaic", help="Make N synthetic face mosaics as the image source."),
    mosaic_max: int = typer.Option(4, "--mosaic-max", help="Faces per mosaic: 1 to this."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split assignment."),
    workers: int = typer.Option(min(os.cpu_count() or 1, 8), "--workers", help="Parallel workers."),
    executor: str = typer.Option("local", "--executor", help="local (process pool) or ray."),
    per_shard: int = typer.Option(50, "--per-shard", help="Images per shard."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the sets already in --out."),
) -> None:
    """Detect objects, keep the most frequent label per image, balance counts, write splits.

    Without --images/--urls/--shards it uses the sample images bundled with scikit-image,
    matplotlib and scikit-learn. --mosaic N instead makes N images of 1..--mosaic-max bundled
    face crops (OUT/mosaic_images); images whose detected count differs from the pasted one are dropped.
    """
    from pathlib import Path

    from generators.common import RunOptions
    from generators.count import sources
    from generators.count.generate import DetectConfig, SplitConfig, detect_shard, split_candidates
    from generators.runner import plan_tasks, run

    # bad input raises ValueError / OSError: one ``error:`` line and exit status 2 from pixmo.cli.main
    given = [x for x in (images, urls, shards, mosaic) if x]
    if len(given) > 1:
        raise ValueError("give at most one of --images, --urls, --shards, --mosaic")
    cfg = DetectConfig(detector=detector, threshold=threshold,
                       queries=tuple(q.strip() for q in queries.split(",") if q.strip()))
    split_cfg = SplitConfig(eval_per_count=eval_per_count, max_per_count=max_per_count)
    opts = RunOptions(out=out, seed=seed, workers=workers, executor=executor, per_shard=per_shard)
    truth: dict[str, int] = {}
    if mosaic:
        from generators.count.mosaic import MosaicConfig, write_mosaics

        grid = 2 if mosaic_max <= 4 else 3
        truth = write_mosaics(Path(out) / "mosaic_images", MosaicConfig(num=mosaic, max_k=mosaic_max, grid=grid,
                                                                        size=112 * grid), seed)
        images = str(Path(out) / "mosaic_images")
    refs = (sources.folder_refs(images) if images else sources.url_refs(urls) if urls
            else sources.shard_refs(shards) if shards else sources.bundled_refs())
    if not refs:
        raise sources.SourceError("no bundled sample images found; pass --images, --urls or --shards")
    cand = Path(out) / "candidates"
    # at most --per-shard images per candidate shard and at least MIN_TASKS shards, so a small input still
    # spreads over the workers; never a function of --workers, so changing it re-uses the candidates
    per_task = 1 if shards else max(1, min(opts.per_shard, -(-len(refs) // MIN_TASKS)))
    summary = run(detect_shard, cfg, plan_tasks(refs, per_task, opts.seed), cand, dataset="pixmo-count-candidates",
                  split="candidates", seed=opts.seed, workers=opts.workers, executor=opts.executor, progress=not quiet,
                  mode="overwrite" if overwrite else "new")
    extra: dict[str, object] = {}
    exclude: set[str] = set()
    if truth:
        from generators.count.mosaic import disagreeing

        exclude = disagreeing(cand, truth)
        extra["mosaic"] = {"images": len(truth), "dropped_disagreeing": len(exclude)}
    splits = split_candidates(cand, out, split_cfg, opts.seed, opts.per_shard, exclude=exclude,
                              mode="overwrite" if overwrite else "new")
    typer.echo(json.dumps({"candidates": summary["samples"], "skipped_shards": summary["skipped"],
                           **summary["stats"], **extra, "splits": splits}))
