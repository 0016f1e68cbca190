"""Bundled sample images and a few hand-written DEMO records for them.

The images ship inside installed packages (scikit-image, matplotlib, scikit-learn), so the demo
needs no network. The records below are demo data written by hand for this toolkit: they are
NOT part of any published PixMo set, and every annotation carries ``meta.source = "demo"``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pixmo.records import parse_record
from pixmo.shards import Annotation, Sample, sha256_hex

DEMO_META = {"source": "demo", "note": "hand-written demo annotation, not published PixMo data"}


@dataclass(frozen=True)
class BundledImage:
    name: str
    package: str  # skimage | matplotlib | sklearn
    file: str
    caption: str
    points: dict[str, list[tuple[float, float]]]  # label -> points in percent (0-100)


BUNDLED = (
    BundledImage("astronaut", "skimage", "astronaut.png",
                 "A smiling astronaut in a white space suit poses in front of an American flag, holding a "
                 "helmet; a model of a space shuttle is visible behind her shoulder.",
                 {"face": [(44.0, 22.0)], "flag": [(85.0, 20.0)]}),
    BundledImage("coffee", "skimage", "coffee.png",
                 "Top-down photo of a cup of coffee with latte art on a saucer, a spoon beside it, on a "
                 "red table.", {"coffee cup": [(50.0, 45.0)]}),
    BundledImage("chelsea", "skimage", "chelsea.png",
                 "Close-up of a ginger tabby cat looking to the side, with whiskers and striped fur.",
                 {"cat's eye": [(44.0, 42.0), (60.0, 40.0)]}),
    BundledImage("rocket", "skimage", "rocket.jpg",
                 "A rocket on its launch pad under a clear blue sky, with service towers beside it.",
                 {"rocket": [(48.0, 50.0)]}),
    BundledImage("motorcycle", "skimage", "motorcycle_left.png",
                 "A red and black motorcycle parked in front of a plain background.",
                 {"wheel": [(20.0, 70.0), (80.0, 70.0)]}),
    BundledImage("grace_hopper", "matplotlib", "grace_hopper.jpg",
                 "A formal portrait of Grace Hopper in a navy uniform with medals, against a dark background.",
                 {"face": [(50.0, 30.0)]}),
    BundledImage("china", "sklearn", "china.jpg",
                 "A traditional Chinese temple building with a curved roof, surrounded by trees.",
                 {"roof": [(50.0, 30.0)]}),
    BundledImage("flower", "sklearn", "flower.jpg",
                 "A close-up of a pink flower with a yellow centre, a bee visiting it.",
                 {"flower": [(50.0, 50.0)]}),
)


def bundled_path(img: BundledImage) -> Path:
    """Where an installed package keeps the image file."""
    if img.package == "skimage":
        import skimage.data

        return Path(os.path.dirname(skimage.data.__file__)) / img.file
    if img.package == "matplotlib":
        import matplotlib

        return Path(matplotlib.get_data_path()) / "sample_data" / img.file
    if img.package == "sklearn":
        import sklearn.datasets

        return Path(os.path.dirname(sklearn.datasets.__file__)) / "images" / img.file
    raise ValueError(f"unknown package {img.package!r}")


def demo_samples(limit: int | None = None) -> list[Sample]:
    """One sample per bundled image with a demo pixmo-cap and demo pixmo-points annotations."""
    out = []
    for img in BUNDLED[:limit]:
        path = bundled_path(img)
        if not path.exists():
            continue
        data = path.read_bytes()
        sha = sha256_hex(data)
        url = f"bundled://{img.package}/{img.file}"
        anns = [Annotation.of(parse_record("pixmo-cap", {
            "image_url": url, "caption": img.caption, "transcripts": [img.caption.lower().rstrip(".")]}),
            **DEMO_META)]
        for label, pts in img.points.items():
            rec = parse_record("pixmo-points", {
                "image_url": url, "image_sha256": sha, "label": label, "count": len(pts),
                "points": [{"x": x, "y": y} for x, y in pts], "collection_method": "pointing"})
            anns.append(Annotation.of(rec, **DEMO_META))
        out.append(Sample(image=data, annotations=anns, image_url=url, key=sha))
    return out
