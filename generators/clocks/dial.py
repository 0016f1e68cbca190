"""The static layer of a face: background, strap, case, bezel, dial, indices, numerals, windows.

It is drawn once per face in dial coordinates, warped once by the face's homography and cached;
each example then only adds its hands and window texts (see ``render.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from generators.clocks import geom
from generators.clocks.body import rgb, shade
from generators.clocks.canvas import Canvas
from generators.clocks.dial_geom import DialArea, bezel_parts, dial_area, tick_parts, where
from generators.clocks.geom import polar
from generators.clocks.spec import FaceSpec, luminance
from generators.common import package_dir

ROMAN = ["XII", "I", "II", "III", "IIII", "V", "VI", "VII", "VIII", "IX", "X", "XI"]
PHOTOS = [("skimage", "data/brick.png"), ("skimage", "data/grass.png"), ("skimage", "data/gravel.png"),
          ("skimage", "data/coffee.png"), ("skimage", "data/rocket.jpg"), ("sklearn", "datasets/images/china.jpg"),
          ("sklearn", "datasets/images/flower.jpg"), ("skimage", "data/hubble_deep_field.jpg")]


@functools.lru_cache(maxsize=16)
def _photo(i: int, size: int) -> np.ndarray | None:
    pkg, rel = PHOTOS[i % len(PHOTOS)]
    base = package_dir(pkg)
    if base is None or not (base / rel).exists():
        return None
    with Image.open(base / rel) as im:  # PIL reads the header only, to pick the decoder's scale
        reduced = im.format == "JPEG" and min(im.size) >= 2 * size
    # OpenCV decodes faster than PIL, and a large JPEG at half scale (once per process and photo)
    bgr = cv2.imread(str(base / rel), cv2.IMREAD_REDUCED_COLOR_2 if reduced else cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    side = min(bgr.shape[:2])
    square = cv2.resize(bgr[:side, :side], (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(square, cv2.COLOR_BGR2RGB)


@dataclass
class Text:
    text: str
    xy: tuple[float, float]
    size: int
    color: tuple[int, int, int]
    font: str
    angle: float = 0.0


@dataclass
class Layout:
    """Where the per-example parts go, in dial coordinates, plus the dial-to-image homography."""

    size: int
    center: tuple[float, float]
    radius: float
    h: np.ndarray
    identity: bool = False  # h is the identity (no warp)
    center_px: tuple[float, float] = (0.0, 0.0)  # the centre in image pixels
    window_ink: tuple[int, int, int] = (0, 0, 0)  # text colour of the date / day / AM-PM windows
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    subsec: tuple[float, float, float] | None = None
    texts: list[Text] = field(default_factory=list)
    memo: dict[Any, Any] = field(default_factory=dict)  # per-face things the renderer computes once


def background(face: FaceSpec, size: int, rng: np.random.Generator) -> np.ndarray:
    c1, c2 = (np.array(c, np.float32) for c in face.bg_colors)
    kind = face.background
    if kind == "photo":
        ph = _photo(int(rng.integers(len(PHOTOS))), size)
        if ph is not None:
            return ph.copy()
        kind = "noise"
    if kind == "plain":  # cv2 fills far faster than numpy broadcasting a colour
        out = np.empty((size, size, 3), np.uint8)
        cv2.rectangle(out, (0, 0), (size, size), face.bg_colors[0], -1)
        return out
    interp = cv2.INTER_LINEAR
    if kind == "gradient":
        t = rng.random((2, 2))
    elif kind == "noise":
        t = rng.random((12, 12))
    elif kind == "checker":
        n = int(rng.integers(4, 10))
        t, interp = (np.indices((n, n)).sum(0) % 2).astype(np.float32), cv2.INTER_NEAREST
    else:  # stripes / wood
        k = rng.uniform(4, 14)
        x = np.linspace(0, 1, 64)[None, :] + (0.15 * rng.random((64, 1)) if kind == "wood" else 0)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * k * x) * np.ones((64, 1))
        if rng.random() < 0.5:
            t = t.T
    small = (c1 + np.ascontiguousarray(t, np.float32)[..., None] * (c2 - c1)).astype(np.uint8)
    return cv2.resize(small, (size, size), interpolation=interp)


def bezel(cv: Canvas, texts: list[Text], face: FaceSpec, c: tuple[float, float], r: float) -> float:
    """Draw the bezel ring; returns the radius the dial itself may use."""
    if face.bezel == "none":
        return r
    disc, marks, tri, edge = bezel_parts(face.bezel, face.shape, *where(cv, c, r))
    cv2.fillPoly(cv.arr, [disc], face.bezel_color, cv2.LINE_AA, geom.SHIFT)
    ink = (20, 20, 20) if luminance(face.bezel_color) > 0.6 else face.bezel_ink
    if marks:
        color = shade(face.bezel_color, 0.6) if face.bezel == "knurled" else ink
        cv2.fillPoly(cv.arr, marks, color, cv2.LINE_AA, geom.SHIFT)  # disjoint: one call
    if face.bezel in ("diver", "tachy", "numbers", "hours"):
        for k in range(10, 60, 10):
            label = {"tachy": str(int(3600 / k * 2)), "hours": str(k // 5)}.get(face.bezel, str(k))
            texts.append(Text(label, polar(c, r * edge[k] * 0.93, k * 6), int(r * 0.08), ink, "DejaVuSans-Bold.ttf", -k * 6))
    if tri is not None:
        cv2.fillPoly(cv.arr, [tri], ink, cv2.LINE_AA, geom.SHIFT)
    return r * 0.86


def _gain(face: FaceSpec, area: DialArea, r: float, rng: np.random.Generator) -> np.ndarray:
    """A brightness map (float32) of the dial texture on the area's coarse grid."""
    dx, ang, rad = area.dx, area.ang, area.rad
    kind = face.texture
    g: np.ndarray
    if kind == "sunburst":
        g = 1 + 0.1 * np.cos(ang * np.float32(2 * int(rng.integers(20, 60))))
    elif kind == "gradient":
        g = 1.15 - 0.35 * np.minimum(rad / np.float32(r), 1)
    elif kind == "guilloche":
        g = 1 + 0.07 * np.sin(rad * np.float32(rng.uniform(40, 90) / r)) * np.cos(ang * 12)
    elif kind == "grain":
        g = 1 + 0.12 * (cv2.resize(rng.random((32, 32)).astype(np.float32), area.grid) - 0.5)
    elif kind == "sector":
        rr = rad / np.float32(r)
        g = np.where((rr > 0.62) & (rr < 0.8), 0.82, 1.0)
    elif kind == "two-tone":
        g = np.where(dx > 0, 0.8, 1.0)
    else:  # stripes
        g = 1 + 0.08 * np.sign(np.sin(dx / np.float32(r / 14)))
    return np.broadcast_to(g, area.grid[::-1]).astype(np.float32)


def dial_fill(cv: Canvas, face: FaceSpec, c: tuple[float, float], r: float, rng: np.random.Generator) -> None:
    if face.texture == "flat":  # no anti-aliasing needed: the ring below covers the edge
        cv2.fillPoly(cv.arr, [geom.fixed(cv.map(geom.shape_points(face.shape, c, r)))], face.dial, cv2.LINE_8,
                     geom.SHIFT)
    else:  # the texture is made and copied only over the dial's box, through the body's cached mask
        area = dial_area(face.shape, *where(cv, c, r), cv.arr.shape[0])
        x0, y0, x1, y1 = area.box
        if x1 > x0 and y1 > y0:
            g = _gain(face, area, r, rng)
            small = cv2.merge([cv2.convertScaleAbs(g, alpha=float(v)) for v in face.dial])  # gain x colour, 0..255
            tex = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
            cv2.copyTo(tex, area.mask, cv.arr[y0:y1, x0:x1])  # in place: a view of the image
    cv.ring(face.shape, c, r, shade(face.dial, 0.7), 2)


def ticks(cv: Canvas, face: FaceSpec, c: tuple[float, float], r: float) -> None:
    if face.ticks == "none":
        return
    parts, outlines = tick_parts(face.ticks, face.shape, *where(cv, c, r))
    cv2.fillPoly(cv.arr, parts, face.ink, cv2.LINE_AA, geom.SHIFT)  # disjoint: one call for all of them
    for o in outlines:
        cv2.polylines(cv.arr, [o], True, face.ink, 1, cv2.LINE_AA, geom.SHIFT)


def numerals(texts: list[Text], face: FaceSpec, c: tuple[float, float], r: float, rng: np.random.Generator) -> None:
    kind = face.numerals
    if kind == "none":
        return
    hours = {"quarters-arabic": [0, 3, 6, 9], "quarters-roman": [0, 3, 6, 9], "cardinal": [0, 3, 6, 9],
             "even-arabic": [0, 2, 4, 6, 8, 10]}.get(kind, list(range(12)))
    size = int(r * (0.3 if kind == "cardinal" else 0.17 if "roman" in kind else 0.2))
    inset = 0.72 if face.ticks in ("batons", "double") else 0.78
    colorful = face.extras.get("colorful")
    edge = geom.boundaries(face.shape, np.array(hours) * 30.0).tolist()  # one call for every numeral
    for h, b in zip(hours, edge, strict=True):
        d = h * 30
        label = ROMAN[h] if "roman" in kind else str(h or 12)
        ink = face.ink
        if colorful:
            ink = rgb(rng.integers(0, 200, 3)) if luminance(face.dial) > 0.5 else ink
        texts.append(Text(label, polar(c, r * b * inset, d), size, ink, face.font, -d if face.radial_numerals else 0.0))
        if kind == "military":
            texts.append(Text(str(h + 12 if h else 24), polar(c, r * 0.52, d), int(size * 0.5), face.ink, face.font))


def subdials(cv: Canvas, face: FaceSpec, lay: Layout, rng: np.random.Generator) -> None:
    c, r = lay.center, lay.radius
    spots = [(90, 0.48), (270, 0.48), (180, 0.48)][: face.subdials]
    if face.second_subdial:
        spots.append((180, 0.5))
    ring = face.ink
    for i, (d, dist) in enumerate(spots):
        sc, sr = polar(c, r * dist, d), r * 0.22
        cv.fill([geom.circle(sc, sr)], shade(face.dial, 0.85 if luminance(face.dial) > 0.4 else 1.5))
        cv.outline(geom.circle(sc, sr), ring)
        d12 = np.arange(12) * 30.0
        cv.fill(geom.quads(geom.polars(sc, sr * 0.8, d12), geom.polars(sc, sr * 0.95, d12), 1.2), ring, disjoint=True)
        if face.second_subdial and i == len(spots) - 1:
            lay.subsec = (sc[0], sc[1], sr)
        else:
            a = float(rng.choice([0.0, rng.uniform(0, 360)]))
            cv.line(sc, polar(sc, sr * 0.8, a), ring, max(1.5, r * 0.015))
            cv.disc(sc, r * 0.025, ring)


WINDOWS = [((250, 250, 248), (20, 20, 24)), ((24, 24, 28), (235, 235, 235)), ((150, 30, 30), (250, 250, 250))]


def window_colors(face: FaceSpec) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(background, text) of the date/AM-PM windows: the disc that stands out most from both hands."""
    return max(WINDOWS, key=lambda w: min(abs(luminance(w[0]) - luminance(face.hour.color)),
                                          abs(luminance(w[0]) - luminance(face.minute.color))))


def _window(cv: Canvas, box: tuple[float, float, float, float], face: FaceSpec) -> None:
    x0, y0, x1, y1 = box
    quad = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    cv.fill([quad], window_colors(face)[0] if face.digital is None else face.digital.panel)
    cv.outline(quad, shade(face.dial, 0.5))


def windows(cv: Canvas, face: FaceSpec, lay: Layout) -> None:
    c, r = lay.center, lay.radius
    w, h = r * 0.2, r * 0.15
    if face.digital is not None and face.date_window != "none":  # below the display, never over it
        y = c[1] + r * 0.62
        lay.boxes["date"] = (c[0] - w / 2, y - h / 2, c[0] + w / 2, y + h / 2)
    elif face.date_window in ("3", "day-date"):
        x = c[0] + r * 0.62
        lay.boxes["date"] = (x - w / 2, c[1] - h / 2, x + w / 2, c[1] + h / 2)
    elif face.date_window == "6":
        y = c[1] + r * 0.62
        lay.boxes["date"] = (c[0] - w / 2, y - h / 2, c[0] + w / 2, y + h / 2)
    if face.date_window == "day-date" and face.digital is None:
        x = c[0] + r * 0.32
        lay.boxes["day"] = (x - w * 0.8, c[1] - h / 2, x + w * 0.7, c[1] + h / 2)
    if face.ampm_window and face.digital is None:
        x = c[0] - r * 0.6
        lay.boxes["ampm"] = (x - w * 0.65, c[1] - h / 2, x + w * 0.65, c[1] + h / 2)
    if face.digital is not None or face.hybrid_digital:
        pw, ph = (r * 1.5, r * 0.55) if face.digital is not None else (r * 0.8, r * 0.26)
        cy = c[1] + (0.05 * r if face.digital is not None else 0.45 * r)
        lay.boxes["digital"] = (c[0] - pw / 2, cy - ph / 2, c[0] + pw / 2, cy + ph / 2)
    for name, box in lay.boxes.items():
        if name != "digital" or face.digital is not None:
            _window(cv, box, face)
        else:
            x0, y0, x1, y1 = box
            cv.fill([np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])], (10, 12, 14))


def brand(texts: list[Text], face: FaceSpec, lay: Layout) -> None:
    c, r = lay.center, lay.radius
    up = 0.62 if face.digital is not None else 0.4
    texts.append(Text(face.brand, (c[0], c[1] - r * up), int(r * 0.11), face.ink, face.font))
    if face.digital is None and not face.hybrid_digital and face.subdials == 0 and not face.second_subdial:
        texts.append(Text(face.tagline, (c[0], c[1] + r * 0.38), int(r * 0.07), face.ink, "DejaVuSans.ttf"))


def draw_texts(cv: Canvas, texts: list[Text]) -> None:
    cv.texts([(t.text, t.xy, t.size, t.color, t.font, t.angle) for t in texts])


def glare(arr: np.ndarray, lay: Layout, rng: np.random.Generator) -> None:
    """A faint white reflection on the glass, blended over its own bounding box only."""
    c, r = lay.center, lay.radius
    d = rng.uniform(0, 360)
    pts = [polar(c, r * 0.95, d - 40), polar(c, r * 0.95, d + 40), polar(c, r * 0.55, d + 25), polar(c, r * 0.55, d - 25)]
    poly = geom.apply_h(lay.h, np.array(pts))
    H, W = arr.shape[:2]
    x0, y0 = max(0, int(poly[:, 0].min()) - 1), max(0, int(poly[:, 1].min()) - 1)
    x1, y1 = min(W, int(poly[:, 0].max()) + 2), min(H, int(poly[:, 1].max()) + 2)
    if x1 <= x0 or y1 <= y0:
        return
    region = arr[y0:y1, x0:x1]
    overlay = region.copy()
    geom.fill(overlay, [poly - (x0, y0)], (255, 255, 255))
    region[:] = cv2.addWeighted(overlay, 0.12, region, 0.88, 0)
