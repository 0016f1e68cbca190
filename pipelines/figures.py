"""Figures for the dataset report: per-dataset statistics, matplotlib plots and contact sheets.

Every figure is returned as PNG/JPEG bytes so the report can embed it as a data URI.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from pixmo import images
from pixmo.shards import Sample, iter_samples, read_manifest

TEXT_FIELDS = ("caption", "answer", "response", "text")


@dataclass
class DatasetStats:
    name: str
    path: str
    samples: int = 0
    annotations: Counter = field(default_factory=Counter)
    formats: Counter = field(default_factory=Counter)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    anns_per_image: list[int] = field(default_factory=list)
    points_per_record: list[int] = field(default_factory=list)
    text_words: dict[str, list[int]] = field(default_factory=dict)
    sources: Counter = field(default_factory=Counter)
    manifest: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "samples": self.samples, "annotations": dict(self.annotations),
                "formats": dict(self.formats), "sources": dict(self.sources),
                "shards": len(self.manifest.get("shards", []))}


def _points_of(record: Any) -> int | None:
    pts = getattr(record, "points", None)
    if pts is None:
        return None
    if hasattr(pts, "x"):
        return len(pts.x)
    if isinstance(pts, dict):
        return len(pts.get("x", []))
    return len(pts)


def _texts_of(record: Any) -> dict[str, str]:
    out = {f: getattr(record, f) for f in TEXT_FIELDS if isinstance(getattr(record, f, None), str)}
    qs = getattr(record, "questions", None)
    if qs is not None and hasattr(qs, "answer"):
        out["answer"] = " ".join(qs.answer)
    return out


def collect_stats(name: str, path: str | Path, keep: int = 24) -> tuple[DatasetStats, list[Sample]]:
    """Stream a shard directory once: statistics plus the first ``keep`` samples for a contact sheet."""
    st = DatasetStats(name, str(path), manifest=read_manifest(path))
    kept: list[Sample] = []
    for s in iter_samples(path, validate=False):
        st.samples += 1
        st.formats[s.image_ext] += 1
        st.sizes.append((s.width, s.height))
        st.anns_per_image.append(len(s.annotations))
        for a in s.annotations:
            st.annotations[a.subset] += 1
            st.sources[str(a.meta.get("source", "unlabelled"))] += 1
            n = _points_of(a.record)
            if n is not None:
                st.points_per_record.append(n)
            for f, t in _texts_of(a.record).items():
                st.text_words.setdefault(f, []).append(len(t.split()))
        if len(kept) < keep:
            kept.append(s)
    return st, kept


def dataset_summary(path: str | Path) -> dict[str, Any]:
    """``pixmo.stats.compute_stats`` without the long value lists (or our own summary without it)."""
    try:
        from pixmo.stats import compute_stats
    except ImportError:
        st, _ = collect_stats(Path(path).name, path, keep=0)
        return st.summary()
    return {k: v for k, v in compute_stats(path).items() if not k.endswith("_values")}


# --- plots ---------------------------------------------------------------------------------


def _fig_png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_overview(stats: list[DatasetStats]) -> bytes:
    """Annotations per subset, stacked by dataset."""
    plt = _plt()
    subsets = sorted({k for s in stats for k in s.annotations})
    fig, ax = plt.subplots(figsize=(7, 0.4 * max(len(subsets), 3) + 1))
    left = [0] * len(subsets)
    for s in stats:
        vals = [s.annotations.get(k, 0) for k in subsets]
        ax.barh(subsets, vals, left=left, label=s.name)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.set_xlabel("annotations")
    ax.set_title("Annotations per subset")
    ax.legend(fontsize=7, loc="lower right")
    return _fig_png(fig)


def plot_dataset(st: DatasetStats) -> bytes:
    """Four panels: image sizes, annotations per image, points per record, text lengths."""
    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(14, 3))
    if st.sizes:
        w, h = zip(*st.sizes, strict=True)
        axes[0].scatter(w, h, s=8, alpha=0.6)
    axes[0].set(title="image size (px)", xlabel="width", ylabel="height")
    axes[1].hist(st.anns_per_image or [0], bins=20)
    axes[1].set(title="annotations per image", xlabel="annotations")
    axes[2].hist(st.points_per_record or [0], bins=20, color="tab:green")
    axes[2].set(title="points per record", xlabel="points")
    for f, vals in sorted(st.text_words.items()):
        axes[3].hist(vals, bins=20, alpha=0.6, label=f)
    if st.text_words:
        axes[3].legend(fontsize=7)
    axes[3].set(title="text length (words)", xlabel="words")
    fig.suptitle(st.name)
    return _fig_png(fig)


def plot_curve(steps: list[int], series: dict[str, list[float]], title: str = "training curve") -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3))
    for name, vals in series.items():
        ax.plot(steps[: len(vals)], vals, label=name)
    ax.set(title=title, xlabel="step")
    ax.legend(fontsize=8)
    return _fig_png(fig)


# --- contact sheets ------------------------------------------------------------------------


def _pixel_points(sample: Sample, record: Any) -> list[tuple[float, float]]:
    """A record's points in pixels of the original image (records may be validated or raw)."""
    pts = getattr(record, "points", None)
    if pts is None:
        return []
    if hasattr(pts, "model_dump"):
        pts = pts.model_dump()
    if isinstance(pts, dict):  # pixmo-count: parallel lists, pixels
        return list(zip(pts.get("x", []), pts.get("y", []), strict=False))
    unit = getattr(type(record), "UNIT", "percent")
    out = []
    for p in pts:
        if hasattr(p, "model_dump"):
            p = p.model_dump()
        if isinstance(p, dict):
            x, y = p.get("x"), p.get("y")
        elif isinstance(p, list | tuple) and len(p) == 2:
            x, y = p
        else:
            continue  # nested groups (point explanations) are not drawn
        if not (isinstance(x, int | float) and isinstance(y, int | float)):
            continue
        if unit == "percent":
            x, y = images.to_pixels(x, y, (sample.width, sample.height))
        out.append((x, y))
    return out


def _draw_points(im: Image.Image, sample: Sample, scale: float) -> None:
    d = ImageDraw.Draw(im)
    for a in sample.annotations:
        for x, y in _pixel_points(sample, a.record):
            x, y = x * scale, y * scale
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(255, 40, 40), outline=(255, 255, 255))


def _label(sample: Sample) -> str:
    for a in sample.annotations:
        for f in ("label", "text", "caption", "question", "image_id"):
            v = getattr(a.record, f, None)
            if isinstance(v, str) and v:
                return v[:28]
    return sample.key[:12]


def contact_sheet(samples: list[Sample], cols: int = 6, cell: int = 128) -> bytes:
    """A JPEG grid of thumbnails with points drawn and a short label under each."""
    rows = max(1, -(-len(samples) // cols))
    sheet = Image.new("RGB", (cols * cell, rows * (cell + 14)), "white")
    d = ImageDraw.Draw(sheet)
    for i, s in enumerate(samples):
        im, problem = images.safe_decode(s.image, (s.width or cell, s.height or cell))
        scale = min(cell / im.width, cell / im.height)
        im = im.resize((max(1, int(im.width * scale)), max(1, int(im.height * scale))))
        if problem is None:  # a bad image stays a grey box: the sheet never fails on one sample
            _draw_points(im, s, scale)
        x, y = (i % cols) * cell, (i // cols) * (cell + 14)
        sheet.paste(im, (x + (cell - im.width) // 2, y + (cell - im.height) // 2))
        d.text((x + 2, y + cell + 1), _label(s), fill=(0, 0, 0))
    buf = io.BytesIO()
    sheet.save(buf, "JPEG", quality=85)
    return buf.getvalue()
