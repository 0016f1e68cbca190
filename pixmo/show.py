"""``pixmo show``: one sample's image with its points drawn and its annotations listed."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from pixmo import images, shards
from pixmo.records import RECORD_TYPES

COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45"]


def find_sample(source: str | Path, key: str) -> tuple[str, dict[str, bytes]]:
    """The members of the sample whose key is ``key`` (or starts with it, if unique)."""
    found = [(k, m) for k, m in shards.iter_raw(source) if k.startswith(key)]
    if not found:
        raise shards.ShardError(f"no sample with key {key!r} in {source}")
    if len(found) > 1:
        raise shards.ShardError(f"key prefix {key!r} matches {len(found)} samples; give more characters")
    return found[0]


def annotation_points(subset: str, rec: dict[str, Any], size: tuple[int, int]) -> list[tuple[float, float]]:
    """The record's points in pixels, using the subset's declared UNIT (percent or pixels)."""
    pts = rec.get("points")
    if subset == "pixmo-count" and isinstance(pts, dict):
        xy = list(zip(pts.get("x", []), pts.get("y", []), strict=False))
    elif subset == "pixmo-point-explanations" and isinstance(pts, list):
        xy = [(p[0], p[1]) for group in pts for p in group]
    elif isinstance(pts, list):
        xy = [(p["x"], p["y"]) for p in pts if isinstance(p, dict)]
    else:
        return []
    cls = RECORD_TYPES.get(subset)
    if cls is not None and cls.UNIT == "percent":
        return [images.to_pixels(x, y, size) for x, y in xy]
    return [(float(x), float(y)) for x, y in xy]


def describe(subset: str, rec: dict[str, Any]) -> str:
    """A one-paragraph text of an annotation (long fields cut)."""
    parts = []
    for k, v in rec.items():
        if k in ("image_url", "image_sha256", "masks", "points"):
            continue
        s = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
        parts.append(f"{k}={s[:200]}")
    return f"[{subset}] " + "; ".join(parts)


def render(image: bytes, annotations: list[dict[str, Any]], width_chars: int = 100) -> Image.Image:
    """The image with points drawn (one colour per annotation) above a text panel listing them."""
    im, problem = images.safe_decode(image, (320, 240))
    w, h = im.size
    if problem:  # a bad image is shown as a grey box with the problem, never a traceback
        annotations = [{"subset": "image", "record": {"problem": problem}}, *annotations]
    draw = ImageDraw.Draw(im)
    r = max(3, min(w, h) // 80)
    lines: list[tuple[str, str]] = []
    for i, a in enumerate(annotations):
        colour = COLOURS[i % len(COLOURS)]
        subset, rec = a.get("subset", "?"), a.get("record", {})
        for x, y in annotation_points(subset, rec, (w, h)):
            draw.ellipse([x - r, y - r, x + r, y + r], outline="white", fill=colour, width=1)
        for ln in textwrap.wrap(describe(subset, rec), width_chars) or [""]:
            lines.append((ln, colour))
    font = ImageFont.load_default()
    line_h = 14
    panel_w = max(w, 6 * width_chars + 10)
    canvas = Image.new("RGB", (panel_w, h + line_h * len(lines) + 10), "white")
    canvas.paste(im, (0, 0))
    d = ImageDraw.Draw(canvas)
    for j, (ln, colour) in enumerate(lines):
        d.text((5, h + 5 + j * line_h), ln, fill=colour, font=font)
    return canvas


def show(source: str | Path, key: str, out: str | Path) -> tuple[str, list[dict[str, Any]]]:
    """Write the annotated image of sample ``key`` to ``out``; returns (full key, annotations)."""
    full, members = find_sample(source, key)
    exts = [e for e in shards.IMAGE_EXTS if e in members]
    if not exts or "json" not in members:
        raise shards.ShardError(f"sample {full} lacks its image or json member")
    anns = []
    for a in json.loads(members["json"]).get("annotations", []):
        subset, record, meta = shards.envelope(a)
        anns.append({"subset": subset, "record": record, "meta": meta})
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    render(members[exts[0]], anns).save(out)
    return full, anns
