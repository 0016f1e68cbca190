"""A drawing surface in dial coordinates: every shape is mapped through the face's homography
before it is drawn, so rotation and perspective cost nothing per pixel (no full-frame warp),
and each text is a small cached mask warped into place on its own.

Text masks are put together from cached glyphs (advance widths, no pair kerning), so a new
string costs a few array copies rather than a FreeType layout and render.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
from PIL import Image, ImageFont

from generators.clocks import geom
from generators.common import package_dir

Color = tuple[int, int, int]
PAD = 2  # px of empty border around every text mask (room for the warp's interpolation)


@functools.lru_cache(maxsize=64)
def _base_font(name: str) -> ImageFont.FreeTypeFont:
    """The font at a nominal size. Basic layout: glyphs are drawn one at a time, so there is
    nothing to shape, and it measures an advance about 10x faster than raqm. Without matplotlib's
    copy of the font, Pillow's own scalable default font."""
    base = package_dir("matplotlib")
    if base is not None:
        try:
            return ImageFont.truetype(str(base / "mpl-data" / "fonts" / "ttf" / name), 24,
                                      layout_engine=ImageFont.Layout.BASIC)
        except OSError:
            pass
    default = ImageFont.load_default(24)
    if not isinstance(default, ImageFont.FreeTypeFont):  # a Pillow built without FreeType
        raise RuntimeError("clock text needs Pillow with FreeType support")
    return default


@functools.lru_cache(maxsize=512)
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return _base_font(name).font_variant(size=max(6, size))  # a new size of an open font: no second file read


@functools.lru_cache(maxsize=8192)
def glyph(font_name: str, size: int, ch: str) -> tuple[np.ndarray | None, int, int, float]:
    """(8-bit mask or None if blank, left, top relative to the pen on the baseline, advance)."""
    f = font(font_name, size)
    core, (left, top) = f.getmask2(ch, mode="L", anchor="ls")
    advance = float(f.getlength(ch))
    if not (core.size[0] and core.size[1]):
        return None, 0, 0, advance
    mask = np.asarray(Image.Image()._new(core))  # the glyph bitmap, as FreeType rendered it
    return (mask if mask.any() else None), int(left), int(top), advance


def text_length(text: str, font_name: str, size: int) -> float:
    return sum(glyph(font_name, size, ch)[3] for ch in text)


def compose(text: str, font_name: str, size: int) -> np.ndarray:
    """An 8-bit mask of ``text`` from cached glyphs, cropped to the ink plus ``PAD``."""
    pen, placed = 0.0, []
    for ch in text:
        m, left, top, adv = glyph(font_name, size, ch)
        if m is not None:
            placed.append((m, round(pen) + left, top))
        pen += adv
    if not placed:
        return np.zeros((1, 1), np.uint8)
    x0, y0 = min(x for _, x, _ in placed), min(y for _, _, y in placed)
    x1 = max(x + m.shape[1] for m, x, _ in placed)
    y1 = max(y + m.shape[0] for m, _, y in placed)
    out = np.zeros((y1 - y0 + 2 * PAD, x1 - x0 + 2 * PAD), np.uint8)
    for m, x, y in placed:
        region = out[y - y0 + PAD: y - y0 + PAD + m.shape[0], x - x0 + PAD: x - x0 + PAD + m.shape[1]]
        np.maximum(region, m, out=region)
    return out


@functools.lru_cache(maxsize=16384)
def fitted_size(text: str, font_name: str, size: int, fit: int) -> int:
    """``size``, shrunk in steps of 12% until ``text`` is at most ``fit`` px wide (0: no limit)."""
    while fit and size > 6 and text_length(text, font_name, size) > fit:
        size = int(size * 0.88)
    return size


@functools.lru_cache(maxsize=8192)
def text_mask(text: str, font_name: str, size: int) -> np.ndarray:
    """An 8-bit mask of ``text``, cropped to the ink plus ``PAD`` (rotation happens in the warp)."""
    return compose(text, font_name, size)


@functools.lru_cache(maxsize=1024)
def _ramp(color: Color) -> np.ndarray:
    """A (256, 1, 3) lookup table: alpha -> ``color`` * alpha / 255."""
    ramp = np.arange(256.0)[:, None] / 255 * np.array(color, dtype=np.float64)
    return np.rint(ramp).astype(np.uint8).reshape(256, 1, 3)


def blend(region: np.ndarray, alpha: np.ndarray, color: Color) -> None:
    """``region`` (h, w, 3) uint8 moves towards ``color`` by ``alpha`` / 255, in place."""
    a = cv2.cvtColor(alpha, cv2.COLOR_GRAY2RGB)
    cv2.add(cv2.multiply(region, cv2.bitwise_not(a), scale=1 / 255), cv2.LUT(a, _ramp(tuple(color))), dst=region)


class Canvas:
    """An RGB array plus the homography from dial coordinates to its pixels."""

    def __init__(self, arr: np.ndarray, h: np.ndarray, identity: bool | None = None):
        self.arr, self.h = arr, h
        self.identity = bool(np.allclose(h, np.eye(3))) if identity is None else identity
        self._h = h.tolist()

    def map(self, pts: np.ndarray) -> np.ndarray:
        return geom.to_image(self.h, self.identity, pts)

    def fill(self, polys: list[np.ndarray] | np.ndarray, color: Color, disjoint: bool = False) -> None:
        """Fill polygons (a list, or an (n, k, 2) array of same-size ones) in one mapping and one
        rounding; ``disjoint=True`` draws them in one call (only right if none overlap)."""
        if len(polys) == 0:
            return
        if isinstance(polys, np.ndarray):
            n, k = polys.shape[:2]
            parts = list(geom.fixed(self.map(polys.reshape(-1, 2))).reshape(n, k, 1, 2))
        elif len(polys) == 1:
            parts = [geom.fixed(self.map(polys[0]))]
        else:
            parts = geom.split(geom.fixed(self.map(np.concatenate(polys))), [len(p) for p in polys])
        if disjoint:
            cv2.fillPoly(self.arr, parts, color, cv2.LINE_AA, geom.SHIFT)
        else:
            for p in parts:
                cv2.fillPoly(self.arr, [p], color, cv2.LINE_AA, geom.SHIFT)

    def outline(self, pts: np.ndarray, color: Color) -> None:
        """A closed 1 px anti-aliased outline."""
        cv2.polylines(self.arr, [geom.fixed(self.map(pts))], True, color, 1, cv2.LINE_AA, geom.SHIFT)

    def ring(self, shape: str, c: tuple[float, float], r: float, color: Color, width: float) -> None:
        """A ``width`` px thick outline of a dial shape of radius ``r``: one fill of both edges
        (even-odd), far cheaper than a thick anti-aliased polyline."""
        self.fill([geom.shape_points(shape, c, r + width / 2, 64), geom.shape_points(shape, c, r - width / 2, 64)],
                  color, disjoint=True)

    def line(self, p: tuple[float, float], q: tuple[float, float], color: Color, width: float) -> None:
        self.fill(geom.quads(np.array([p], float), np.array([q], float), width), color)

    def disc(self, c: tuple[float, float], r: float, color: Color, n: int = 32) -> None:
        self.fill([geom.circle(c, r, n)], color)

    def _blend_at(self, mask: np.ndarray, m: list[list[float]], color: Color) -> None:
        """Alpha-blend ``color`` through ``mask`` mapped into the image by the 3 x 3 matrix ``m``
        (from mask pixels), warping it only into its own bounding box. Plain floats: 4 corners are few."""
        mh, mw = mask.shape
        H, W = self.arr.shape[:2]
        (p, q, r), (s, t, u), (g, h, k) = m
        xs, ys = [], []
        for cx, cy in ((0, 0), (mw, 0), (mw, mh), (0, mh)):
            w = g * cx + h * cy + k
            xs.append((p * cx + q * cy + r) / w)
            ys.append((s * cx + t * cy + u) / w)
        ox, oy = max(0, int(min(xs))), max(0, int(min(ys)))
        ex, ey = min(W, math.ceil(max(xs)) + 1), min(H, math.ceil(max(ys)) + 1)
        if ex <= ox or ey <= oy:
            return
        shifted = np.array([[p - ox * g, q - ox * h, r - ox * k], [s - oy * g, t - oy * h, u - oy * k], [g, h, k]])
        blend(self.arr[oy:ey, ox:ex], cv2.warpPerspective(mask, shifted, (ex - ox, ey - oy), flags=cv2.INTER_LINEAR),
              color)

    def _blend_straight(self, mask: np.ndarray, x0: int, y0: int, color: Color) -> None:
        """Alpha-blend ``color`` through ``mask`` with its corner on image pixel (x0, y0)."""
        mh, mw = mask.shape
        H, W = self.arr.shape[:2]
        ox, oy, ex, ey = max(0, x0), max(0, y0), min(W, x0 + mw), min(H, y0 + mh)
        if ex > ox and ey > oy:
            blend(self.arr[oy:ey, ox:ex], mask[oy - y0: ey - y0, ox - x0: ex - x0], color)

    def text(self, text: str, center: tuple[float, float], size: int, color: Color, font_name: str,
             angle: float = 0.0, fit: int = 0) -> None:
        """``text`` centred on a dial point, rotated ``angle`` degrees counter-clockwise and shrunk
        to at most ``fit`` px wide if given (sizes are rounded to a few steps, so masks repeat)."""
        if not text:
            return
        mask = text_mask(text, font_name, fitted_size(text, font_name, int(size) // 3 * 3, int(fit) // 4 * 4))
        mh, mw = mask.shape
        if self.identity and not angle:
            self._blend_straight(mask, round(center[0] - mw / 2), round(center[1] - mh / 2), color)
            return
        # mask pixels -> dial: about the mask's centre, turn by angle (counter-clockwise on screen)
        # and move to ``center``; then the homography
        co, si = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        ax = [co, si, center[0] - co * mw / 2 - si * mh / 2]
        ay = [-si, co, center[1] + si * mw / 2 - co * mh / 2]
        m = [[hr[0] * ax[0] + hr[1] * ay[0], hr[0] * ax[1] + hr[1] * ay[1], hr[0] * ax[2] + hr[1] * ay[2] + hr[2]]
             for hr in self._h]
        self._blend_at(mask, m, color)

    def text_in_box(self, text: str, box: tuple[float, float, float, float], color: Color, font_name: str) -> None:
        x0, y0, x1, y1 = box
        self.text(text, ((x0 + x1) / 2, (y0 + y1) / 2), int((y1 - y0) * 0.75), color, font_name,
                  fit=int((x1 - x0) * 0.9))

    def texts(self, items: list[tuple[str, tuple[float, float], int, Color, str, float]]) -> None:
        """Many texts (a face's numerals), each warped and blended on its own: small masks are far
        cheaper to warp and blend than one mask over all of them."""
        for text, center, size, color, font_name, angle in items:
            self.text(text, center, size, color, font_name, angle)
