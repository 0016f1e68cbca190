"""Demo stages that only need ``pixmo``: bundled samples to shards, validation, statistics."""

from __future__ import annotations

import json

from pipelines.samples import demo_samples
from pipelines.stages import Context
from pixmo.shards import iter_samples, read_manifest, verify_checksums, write_samples


def stage_samples(ctx: Context) -> str:
    """Bundled sample images + hand-written demo records -> shards."""
    samples = demo_samples(ctx.config.bundled_images)
    out = ctx.out / "shards" / "bundled"
    write_samples(out, samples, dataset="demo-bundled", config={"source": "bundled sample images"},
                  max_count=ctx.config.shard_size)
    ctx.datasets["bundled (demo records)"] = str(out)
    n = sum(len(s.annotations) for s in samples)
    return f"{len(samples)} images, {n} demo annotations -> {out}"


def validate_dir(path: str) -> dict[str, int]:
    """Checksums against the manifest, then every record against its schema.

    Uses ``pixmo.stats``/``pixmo.cli_data`` validation when the Foundation provides a function for
    it, else the shard reader's own checks (which raise on the first problem).
    """
    try:
        from pixmo import stats as pstats  # type: ignore[attr-defined]

        fn = getattr(pstats, "validate_dir", None) or getattr(pstats, "validate", None)
    except ImportError:
        fn = None
    if fn is not None:
        res = fn(path)
        if hasattr(res, "model_dump"):
            res = res.model_dump()
        if isinstance(res, dict):
            return {k: v for k, v in res.items() if isinstance(v, int)} or {"checked": 1}
    verify_checksums(path)
    n = a = 0
    for s in iter_samples(path, validate=True):
        n += 1
        a += len(s.annotations)
    man = read_manifest(path)
    if man["num_samples"] != n:
        raise ValueError(f"{path}: manifest says {man['num_samples']} samples, shards hold {n}")
    return {"samples": n, "annotations": a}


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
    """Per-dataset statistics (pixmo.stats when present), saved as JSON."""
    from pipelines.figures import collect_stats

    rows = {}
    for name, path in ctx.datasets.items():
        st, _ = collect_stats(name, path, keep=0)
        rows[name] = st.summary()
    ctx.path("stats.json").write_text(json.dumps(rows, indent=2, sort_keys=True))
    ctx.results["stats"] = rows
    return f"statistics of {len(rows)} shard sets -> {ctx.out / 'stats.json'}"
