"""A contact sheet of a docs run: a few thumbnails per renderer, labelled, in one small PNG.

    .venv/bin/python -m generators.docs.sheet out/docs docs/docs_contact_sheet.png
"""

from __future__ import annotations

import io
import sys
from collections import defaultdict
from pathlib import Path

from PIL import Image, ImageDraw

from pixmo.shards import iter_samples


def contact_sheet(shards: str | Path, out: str | Path, per_renderer: int = 2, thumb: tuple[int, int] = (220, 165)) -> Path:
    picked: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for s in iter_samples(shards):
        meta = s.annotations[0].meta
        r = meta.get("renderer", "?")
        if len(picked[r]) < per_renderer:
            picked[r].append((f"{r}: {meta.get('figure_type', '')}", s.image))
    names = sorted(picked)
    tw, th = thumb
    sheet = Image.new("RGB", (tw * len(names), (th + 18) * per_renderer), "white")
    draw = ImageDraw.Draw(sheet)
    for col, name in enumerate(names):
        for row, (label, data) in enumerate(picked[name]):
            _thumb(sheet, draw, data, label, (col * tw, row * (th + 18)), thumb)
    return _save(sheet, out)


def _thumb(sheet: Image.Image, draw: ImageDraw.ImageDraw, data: bytes, label: str, at: tuple[int, int],
           thumb: tuple[int, int]) -> None:
    (x, y), (tw, th) = at, thumb
    im = Image.open(io.BytesIO(data)).convert("RGB")
    im.thumbnail((tw - 6, th - 6))
    sheet.paste(im, (x + (tw - im.width) // 2, y + (th - im.height) // 2))
    draw.text((x + 4, y + th + 2), label[:34], fill="black")


def _save(sheet: Image.Image, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, "PNG", optimize=True)
    return out


def renderer_sheet(name: str, pages: list[tuple[str, bytes]], out: str | Path, cols: int = 4,
                   thumb: tuple[int, int] = (220, 165)) -> Path:
    """One renderer's contact sheet: a grid of its pages' thumbnails, each labelled, under a title
    line (a sheet that says so when the renderer kept no page)."""
    tw, th = thumb
    rows = max(1, -(-len(pages) // cols))
    sheet = Image.new("RGB", (tw * cols, 22 + (th + 18) * rows), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((6, 5), f"{name}: {len(pages)} page(s)" if pages else f"{name}: no pages kept", fill="black")
    for k, (label, data) in enumerate(pages):
        _thumb(sheet, draw, data, label, ((k % cols) * tw, 22 + (k // cols) * (th + 18)), thumb)
    return _save(sheet, out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m generators.docs.sheet SHARD_DIR OUT.png")
    print(contact_sheet(sys.argv[1], sys.argv[2]))
