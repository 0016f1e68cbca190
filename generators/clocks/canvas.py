"""A drawing surface in dial coordinates: every shape is mapped through the face's homography
before it is drawn, so rotation and perspective cost nothing per pixel (no full-frame warp),
and text is rendered once into a small mask that is warped into place.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from generators.clocks import geom
from generators.common import package_dir

Color = tuple[int, int, int]


@functools.lru_cache(maxsize=512)
def font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    base = package_dir("matplotlib")
    try:
        return ImageFont.truetype(str(base / "mpl-data" / "fonts" / "ttf" / name), max(6, size))  # type: ignore[operator]
    except (OSError, TypeError):
        return ImageFont.load_default(max(6, size))


@functools.lru_cache(maxsize=8192)
def text_mask(text: str, font_name: str, size: int, angle: float = 0.0, fit: int = 0) -> np.ndarray:
    """An 8-bit mask of ``text``, tightly cropped (shrunk to ``fit`` px wide if given)."""
    f = font(font_name, size)
    while fit and size > 6 and f.getlength(text) > fit:
        size = int(size * 0.88)
        f = font(font_name, size)
    left, top, right, bottom = f.getbbox(text, anchor="lt")
    im = Image.new("L", (max(1, right - left + 4), max(1, bottom - top + 4)), 0)
    ImageDraw.Draw(im).text((2 - left, 2 - top), text, fill=255, font=f, anchor="lt")
    if angle:
        im = im.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    return np.asarray(im)


class Canvas:
    """An RGB array plus the homography from dial coordinates to its pixels."""

    def __init__(self, arr: np.ndarray, h: np.ndarray, identity: bool | None = None):
        self.arr, self.h = arr, h
        self.identity = bool(np.allclose(h, np.eye(3))) if identity is None else identity

    def map(self, pts: np.ndarray) -> np.ndarray:
        return np.asarray(pts, dtype=np.float64) if self.identity else geom.apply_h(self.h, pts)

    def fill(self, polys: list[np.ndarray], color: Color, disjoint: bool = False) -> None:
        """Fill polygons; ``disjoint=True`` draws them in one call (only right if none overlap)."""
        if not polys:
            return
        if not self.identity:
            sizes = [len(p) for p in polys]
            mapped = geom.apply_h(self.h, np.concatenate([np.asarray(p, np.float64).reshape(-1, 2) for p in polys]))
            polys = np.split(mapped, np.cumsum(sizes)[:-1])
        if disjoint:
            cv2.fillPoly(self.arr, [geom.fixed(p) for p in polys], color, cv2.LINE_AA, geom.SHIFT)
        else:
            geom.fill(self.arr, polys, color)

    def outline(self, pts: np.ndarray, color: Color, width: float) -> None:
        geom.outline(self.arr, self.map(pts), color, int(width))

    def line(self, p: tuple[float, float], q: tuple[float, float], color: Color, width: float) -> None:
        self.fill(geom.quads(np.array([p], float), np.array([q], float), width), color)

    def disc(self, c: tuple[float, float], r: float, color: Color, n: int = 32) -> None:
        self.fill([geom.circle(c, r, n)], color)

    def blend_mask(self, mask: np.ndarray, x0: float, y0: float, color: Color) -> None:
        """Alpha-blend ``color`` through ``mask`` placed with its corner at dial point (x0, y0)."""
        mh, mw = mask.shape
        corners = self.map(np.array([(x0, y0), (x0 + mw, y0), (x0 + mw, y0 + mh), (x0, y0 + mh)]))
        H, W = self.arr.shape[:2]
        ox, oy = max(0, int(corners[:, 0].min())), max(0, int(corners[:, 1].min()))
        ex, ey = min(W, math.ceil(corners[:, 0].max()) + 1), min(H, math.ceil(corners[:, 1].max()) + 1)
        if ex <= ox or ey <= oy:
            return
        if self.identity and x0 == int(x0) and y0 == int(y0):
            a = mask[oy - int(y0): ey - int(y0), ox - int(x0): ex - int(x0)]
        else:
            m = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]], float) @ self.h @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], float)
            a = cv2.warpPerspective(mask, m, (ex - ox, ey - oy), flags=cv2.INTER_LINEAR)
        region = self.arr[oy:oy + a.shape[0], ox:ox + a.shape[1]]
        solid = np.empty_like(region)
        solid[:] = color
        alpha = cv2.merge([a, a, a]) if region.ndim == 3 else a
        region[:] = region + ((solid.astype(np.int16) - region) * alpha.astype(np.int16) // 255)

    def text(self, text: str, center: tuple[float, float], size: int, color: Color, font_name: str,
             angle: float = 0.0, fit: int = 0) -> None:
        """``text`` centred on a dial point (rotated by ``angle`` degrees counter-clockwise)."""
        if not text:
            return
        mask = text_mask(text, font_name, int(size) // 3 * 3, round(angle), int(fit) // 4 * 4)
        x0 = round(center[0] - mask.shape[1] / 2) if self.identity else center[0] - mask.shape[1] / 2
        y0 = round(center[1] - mask.shape[0] / 2) if self.identity else center[1] - mask.shape[0] / 2
        self.blend_mask(mask, x0, y0, color)

    def text_in_box(self, text: str, box: tuple[float, float, float, float], color: Color, font_name: str) -> None:
        x0, y0, x1, y1 = box
        self.text(text, ((x0 + x1) / 2, (y0 + y1) / 2), int((y1 - y0) * 0.75), color, font_name,
                  fit=int((x1 - x0) * 0.9))

    def texts(self, items: list[tuple[str, tuple[float, float], int, Color, str, float]]) -> None:
        """Many texts at once: one mask per colour, warped once and blended once (a face's numerals)."""
        H, W = self.arr.shape[:2]
        by_color: dict[Color, np.ndarray] = {}
        for text, center, size, color, font_name, angle in items:
            if not text:
                continue
            m = text_mask(text, font_name, int(size) // 3 * 3, round(angle))
            mask = by_color.setdefault(tuple(color), np.zeros((H, W), np.uint8))  # type: ignore[arg-type]
            x0, y0 = round(center[0] - m.shape[1] / 2), round(center[1] - m.shape[0] / 2)
            xa, ya, xb, yb = max(0, x0), max(0, y0), min(W, x0 + m.shape[1]), min(H, y0 + m.shape[0])
            if xb > xa and yb > ya:
                region = mask[ya:yb, xa:xb]
                np.maximum(region, m[ya - y0:yb - y0, xa - x0:xb - x0], out=region)
        for color, mask in by_color.items():
            x, y, w, h = cv2.boundingRect(mask)
            if not (w and h):
                continue
            if not self.identity:  # warp only the text's bounding box into its image bounding box
                corners = self.map(np.array([(x, y), (x + w, y), (x + w, y + h), (x, y + h)], float))
                ox, oy = max(0, int(corners[:, 0].min())), max(0, int(corners[:, 1].min()))
                ex, ey = min(W, int(corners[:, 0].max()) + 2), min(H, int(corners[:, 1].max()) + 2)
                if ex <= ox or ey <= oy:
                    continue
                m = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]], float) @ self.h @ \
                    np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], float)
                crop = cv2.warpPerspective(mask[y:y + h, x:x + w], m, (ex - ox, ey - oy), flags=cv2.INTER_LINEAR)
                x, y, w, h = ox, oy, ex - ox, ey - oy
            else:
                crop = mask[y:y + h, x:x + w]
            a = cv2.merge([crop] * 3)
            region = self.arr[y:y + h, x:x + w]
            solid = np.empty_like(region)
            solid[:] = color
            region[:] = cv2.add(cv2.multiply(region, 255 - a, scale=1 / 255), cv2.multiply(solid, a, scale=1 / 255))
