"""``pixmo stats``: counts per subset, points per image, count histogram, caption lengths.

:func:`shard_stats` returns a plain dict (JSON-ready) and, given ``out_dir``, writes PNG plots;
``pixmo report`` reuses it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pixmo import shards

POINT_SUBSETS = ("pixmo-points", "pixmo-points-eval", "pixmo-count")


def _n_points(subset: str, rec: dict[str, Any]) -> int:
    pts = rec.get("points")
    if subset == "pixmo-count" and isinstance(pts, dict):
        return len(pts.get("x") or [])
    if subset == "pixmo-point-explanations" and isinstance(pts, list):
        return sum(len(g) for g in pts)
    return len(pts) if isinstance(pts, list) else 0


def _summary(values: list[int]) -> dict[str, float]:
    if not values:
        return {"n": 0, "mean": 0.0, "min": 0, "max": 0, "median": 0}
    v = sorted(values)
    return {"n": len(v), "mean": round(sum(v) / len(v), 3), "min": v[0], "max": v[-1], "median": v[len(v) // 2]}


def compute_stats(source: str | Path) -> dict[str, Any]:
    """Walk every sample of a shard directory (raw JSON, no record validation) and summarise it."""
    annotations: Counter[str] = Counter()
    images: Counter[str] = Counter()
    points_per_image: list[int] = []
    count_hist: dict[str, Counter[int]] = {}
    caption_words: list[int] = []
    transcripts_per_caption: list[int] = []
    docs_qa: list[int] = []
    n_samples = 0
    for _key, members in shards.iter_raw(source):
        n_samples += 1
        head = json.loads(members.get("json", b"{}"))
        subsets_here: set[str] = set()
        n_pts = 0
        for a in head.get("annotations", []):
            try:
                subset, rec, _ = shards.envelope(a)
            except shards.ShardError:
                subset, rec = str(a.get("subset", "?")) if isinstance(a, dict) else "?", {}
            rec = rec if isinstance(rec, dict) else {}
            annotations[subset] += 1
            subsets_here.add(subset)
            n_pts += _n_points(subset, rec)
            if subset in ("pixmo-points", "pixmo-count") and isinstance(rec.get("count"), int):
                count_hist.setdefault(subset, Counter())[rec["count"]] += 1
            if subset == "pixmo-cap" and isinstance(rec.get("caption"), str):
                caption_words.append(len(rec["caption"].split()))
                transcripts_per_caption.append(len(rec.get("transcripts") or []))
            if subset.startswith("pixmo-docs") and isinstance(rec.get("questions"), dict):
                docs_qa.append(len(rec["questions"].get("question") or []))
        images.update(subsets_here)
        if subsets_here & {*POINT_SUBSETS, "pixmo-point-explanations"}:
            points_per_image.append(n_pts)
    return {
        "source": str(source),
        "samples": n_samples,
        "annotations": dict(sorted(annotations.items())),
        "images_per_subset": dict(sorted(images.items())),
        "points_per_image": _summary(points_per_image),
        "points_per_image_values": points_per_image,
        "count_histogram": {s: {str(k): c[k] for k in sorted(c)} for s, c in sorted(count_hist.items())},
        "caption_words": _summary(caption_words),
        "caption_words_values": caption_words,
        "transcripts_per_caption": _summary(transcripts_per_caption),
        "docs_qa_per_image": _summary(docs_qa),
    }


def write_plots(stats: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """PNG plots of the stats (matplotlib Agg); returns the written paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig: Any, name: str) -> None:
        path = out / name
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    subsets = list(stats["annotations"])
    ax.barh(subsets, [stats["annotations"][s] for s in subsets], color="#4c72b0")
    ax.set_xlabel("annotations")
    ax.set_title(f"annotations per subset ({stats['samples']} images)")
    save(fig, "annotations_per_subset.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(stats["points_per_image_values"] or [0], bins=30, color="#55a868")
    ax.set_xlabel("points per image")
    ax.set_ylabel("images")
    ax.set_title("points per image")
    save(fig, "points_per_image.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for subset, hist in stats["count_histogram"].items():
        ax.bar([int(k) for k in hist], list(hist.values()), alpha=0.6, label=subset)
    ax.set_xlabel("count")
    ax.set_ylabel("annotations")
    ax.set_title("count histogram")
    if stats["count_histogram"]:
        ax.legend()
    save(fig, "count_histogram.png")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(stats["caption_words_values"] or [0], bins=30, color="#c44e52")
    ax.set_xlabel("caption length (words)")
    ax.set_ylabel("captions")
    ax.set_title("caption lengths")
    save(fig, "caption_lengths.png")
    return written


def shard_stats(source: str | Path, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Stats of a shard directory; with ``out_dir`` also ``stats.json`` and the PNG plots there.

    The returned dict has a ``plots`` list (empty without ``out_dir``).
    """
    stats = compute_stats(source)
    stats["plots"] = []
    if out_dir is not None:
        stats["plots"] = [str(p) for p in write_plots(stats, out_dir)]
        slim = {k: v for k, v in stats.items() if not k.endswith("_values")}
        (Path(out_dir) / "stats.json").write_text(json.dumps(slim, indent=2, sort_keys=True) + "\n")
    return stats
