"""Synthetic count images: k face crops of bundled photos pasted into a grid on plain or textured backgrounds.

A source for ``pixmo gen count --mosaic N``: each mosaic holds 1..``max_k`` faces (the scikit-image
astronaut's and matplotlib's Grace Hopper's) at random, non-overlapping cells of a grid, jittered
and scaled, on a flat or smoothly textured background. The images are written to a folder; the
normal detector pipeline labels them, so the records come from the detector, not from the paste
positions. ``truth.json`` keeps the pasted counts, and ``disagreeing`` lists the candidates whose
detected count differs (the CLI drops them and reports how many).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from generators.count.sources import _package_file
from pixmo import images

# bundled image -> face box (x0, y0, x1, y1) as the OpenCV face detector finds it
SPRITES = {"skimage/data/astronaut.png": (177, 66, 274, 163),
           "matplotlib/mpl-data/sample_data/grace_hopper.jpg": (145, 99, 384, 338)}


@dataclass(frozen=True)
class MosaicConfig:
    num: int = 200
    min_k: int = 1
    max_k: int = 4
    size: int = 224  # square image side in pixels
    grid: int = 2  # grid x grid cells; max_k <= grid * grid
    margin: float = 0.15  # context kept around each face box, as a fraction of its side
    scale: tuple[float, float] = (0.7, 0.85)  # face crop side as a fraction of the cell side
    texture: float = 0.5  # probability of a textured (rather than flat) background

    def __post_init__(self) -> None:
        if not 1 <= self.min_k <= self.max_k <= self.grid * self.grid:
            raise ValueError(f"mosaic counts {self.min_k}..{self.max_k} do not fit a {self.grid}x{self.grid} grid")
        if self.num < 1 or self.size < 64 * self.grid:
            raise ValueError(f"mosaic: need num >= 1 and size >= {64 * self.grid} (got {self.num}, {self.size})")
        if not (0 < self.scale[0] <= self.scale[1] <= 1 and 0 <= self.texture <= 1 and self.margin >= 0):
            raise ValueError(f"mosaic: need 0 < scale[0] <= scale[1] <= 1, 0 <= texture <= 1 and margin >= 0 "
                             f"(got {self.scale}, {self.texture}, {self.margin})")


def sprites(margin: float) -> list[Image.Image]:
    """Face crops (with some context) of the bundled images that exist here."""
    out = []
    for ref, (x0, y0, x1, y1) in SPRITES.items():
        try:
            path = _package_file(ref)
        except FileNotFoundError:
            continue
        if path.exists():
            m = int((x1 - x0) * margin)
            with Image.open(path) as im:
                out.append(im.convert("RGB").crop((x0 - m, y0 - m, x1 + m, y1 + m)))
    if not out:
        raise FileNotFoundError("no bundled face images (scikit-image, matplotlib) for mosaics")
    return out


def background(rng: np.random.Generator, size: int, texture: float) -> Image.Image:
    base = rng.integers(60, 200, size=3)
    if rng.random() >= texture:
        return Image.new("RGB", (size, size), tuple(int(v) for v in base))
    coarse = rng.normal(0, 25, size=(8, 8, 3))
    noise = np.asarray(Image.fromarray(np.uint8(np.clip(coarse + 128, 0, 255))).resize((size, size), Image.Resampling.BICUBIC))
    return Image.fromarray(np.uint8(np.clip(base + noise.astype(np.int16) - 128, 0, 255)))


def make_mosaic(rng: np.random.Generator, cfg: MosaicConfig, faces: list[Image.Image]) -> tuple[bytes, int]:
    """PNG bytes of one mosaic and the number of faces pasted."""
    k = int(rng.integers(cfg.min_k, cfg.max_k + 1))
    im = background(rng, cfg.size, cfg.texture)
    cell = cfg.size // cfg.grid
    for c in rng.permutation(cfg.grid * cfg.grid)[:k]:
        side = int(cell * rng.uniform(*cfg.scale))
        face = faces[int(rng.integers(len(faces)))].resize((side, side), Image.Resampling.BILINEAR)
        x = (c % cfg.grid) * cell + int(rng.integers(0, cell - side + 1))
        y = (c // cfg.grid) * cell + int(rng.integers(0, cell - side + 1))
        im.paste(face, (x, y))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue(), k


def write_mosaics(folder: str | Path, cfg: MosaicConfig, seed: int) -> dict[str, int]:
    """Write ``cfg.num`` mosaics and ``truth.json`` ({image_url (``sha256:HEX``) -> pasted count}) to
    ``folder``."""
    root = Path(folder).resolve()
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0x30A1C])
    faces = sprites(cfg.margin)
    truth = {}
    for i in range(cfg.num):
        data, k = make_mosaic(rng, cfg, faces)
        path = root / f"mosaic-{i:05d}.png"
        path.write_bytes(data)
        truth[images.portable_url(f"file:{path}", data)] = k  # the image_url the detector run records
    (root / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth


def disagreeing(candidates: str | Path, truth: dict[str, int]) -> set[str]:
    """Keys of the candidate samples whose detected count differs from the pasted one."""
    from pixmo.shards import envelope, iter_raw

    bad = set()
    for key, members in iter_raw(candidates):
        rec = envelope(json.loads(members["json"])["annotations"][0])[1]
        want = truth.get(rec["image_url"])
        if want is None or want != rec["count"]:
            bad.add(key)
    return bad
