"""Demo stages that only need ``pixmo``: bundled samples to shards, validation, statistics."""

from __future__ import annotations

import json

from pipelines.samples import demo_samples
from pipelines.stages import Context
from pixmo.shards import write_samples


def stage_samples(ctx: Context) -> str:
    """Bundled sample images + hand-written demo records -> shards."""
    samples = demo_samples(ctx.config.bundled_images)
    out = ctx.out / "shards" / "bundled"
    write_samples(out, samples, dataset="demo-bundled", config={"source": "bundled sample images"},
                  max_count=ctx.config.shard_size, mode="overwrite")  # the demo owns its output folder
    ctx.datasets["bundled (demo records)"] = str(out)
    n = sum(len(s.annotations) for s in samples)
    return f"{len(samples)} images, {n} demo annotations -> {out}"


def validate_dir(path: str) -> dict[str, int]:
    """Checksums against the manifest and every record against its schema (``pixmo validate``,
    which lists every problem)."""
    from pixmo.validate import validate_dir as pixmo_validate

    rep = pixmo_validate(path)
    if not rep.ok:
        first = "; ".join(f"{p.shard} {p.key[:12]} {p.field}: {p.problem}" for p in rep.problems[:3])
        raise ValueError(f"{path}: {len(rep.problems)} problems, e.g. {first}")
    return {"samples": rep.samples, "annotations": sum(rep.annotations.values())}


def stage_validate(ctx: Context) -> str:
    """Every shard set made so far: checksums and record schemas."""
    total = {"samples": 0, "annotations": 0}
    for _name, path in ctx.datasets.items():
        res = validate_dir(path)
        for k in total:
            total[k] += int(res.get(k, 0))
    ctx.results["validate"] = total
    return f"{len(ctx.datasets)} shard sets valid: {total['samples']} samples, {total['annotations']} annotations"


def stage_stats(ctx: Context) -> str:
    """Per-dataset statistics (``pixmo stats``), saved as JSON."""
    from pipelines.figures import dataset_summary

    rows = {name: dataset_summary(path) for name, path in ctx.datasets.items()}
    ctx.path("stats.json").write_text(json.dumps(rows, indent=2, sort_keys=True))
    ctx.results["stats"] = rows
    return f"statistics of {len(rows)} shard sets -> {ctx.out / 'stats.json'}"
