"""Dial geometry that depends only on the watch body (shape, centre, radius, homography), made
once per body and shared by every face drawn on it: where the dial lands in the image and its
texture grid, the index marks, the bezel. Polygons are in OpenCV fixed point and read-only."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from generators.clocks import geom
from generators.clocks.geom import polar


def _to_image(h_bytes: bytes, identity: bool):  # noqa: ANN202
    h = np.frombuffer(h_bytes, np.float64).reshape(3, 3)
    return lambda pts: geom.fixed(geom.to_image(h, identity, pts))


def h_key(h: np.ndarray) -> bytes:
    """A homography as a cache key."""
    return np.ascontiguousarray(h, np.float64).tobytes()


def where(cv: Any, c: tuple[float, float], r: float) -> tuple[tuple[float, float], float, bytes, bool]:
    """The arguments every function here takes after its style and shape, for a Canvas: centre,
    radius, homography (as a key) and whether it is the identity."""
    return (float(c[0]), float(c[1])), float(r), h_key(cv.h), cv.identity


@dataclass(frozen=True)
class DialArea:
    """Where a dial of some shape, centre and radius lands in the image under a homography: its
    pixel box, the mask of its pixels there, and for a coarse grid over the box (every 4 px) the
    grid points' dial coordinates relative to the centre, with their angle and radius. It depends
    only on the body (which fixes shape, size, position and perspective), so it is made once per
    body and dial radius and shared by every face of that body; the face's texture is then a
    cheap function of ``ang`` and ``rad``."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (empty if the dial is off the image)
    mask: np.ndarray  # uint8 (y1 - y0, x1 - x0), 255 on the dial
    grid: tuple[int, int]  # nx, ny
    dx: np.ndarray  # float32 (ny, nx) or broadcastable to it: dial x relative to the centre
    ang: np.ndarray  # float32 (ny, nx): atan2(dy, dx)
    rad: np.ndarray  # float32 (ny, nx): hypot(dx, dy)


@functools.lru_cache(maxsize=256)
def dial_area(shape: str, c: tuple[float, float], r: float, h_bytes: bytes, identity: bool, size: int) -> DialArea:
    h = np.frombuffer(h_bytes, np.float64).reshape(3, 3)
    pts = geom.to_image(h, identity, geom.shape_points(shape, c, r))
    x0, y0 = max(0, int(pts[:, 0].min())), max(0, int(pts[:, 1].min()))
    x1, y1 = min(size, int(pts[:, 0].max()) + 2), min(size, int(pts[:, 1].max()) + 2)
    x1, y1 = max(x0, x1), max(y0, y1)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [geom.fixed(pts - (x0, y0))], 255, cv2.LINE_8, geom.SHIFT)
    w, hh = x1 - x0, y1 - y0
    nx, ny = max(2, w // 4), max(2, hh // 4)
    xs = (x0 + np.arange(nx) * (w / nx)).astype(np.float32)
    ys = (y0 + np.arange(ny) * (hh / ny)).astype(np.float32)[:, None]
    if identity:  # (1, nx) and (ny, 1): numpy broadcasts them, no full grids needed
        dx, dy = xs[None, :] - np.float32(c[0]), ys - np.float32(c[1])
    else:
        grid = np.empty((ny, nx, 2), np.float32)
        grid[..., 0], grid[..., 1] = xs, ys
        d = cv2.perspectiveTransform(grid, np.linalg.inv(h))  # image -> dial
        dx, dy = d[..., 0] - np.float32(c[0]), d[..., 1] - np.float32(c[1])
    for a in (mask, dx):
        a.flags.writeable = False
    ang, rad = np.arctan2(dy, dx), np.hypot(dx, dy)
    ang.flags.writeable = rad.flags.writeable = False
    return DialArea((x0, y0, x1, y1), mask, (nx, ny), dx, ang, rad)


@functools.lru_cache(maxsize=512)
def tick_parts(kind: str, shape: str, c: tuple[float, float], r: float, h_bytes: bytes,
                identity: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The index marks of a tick style as image polygons in fixed point, and the railway's outlines:
    pure geometry of the body (shape, centre, radius, homography), shared by all its faces."""
    to_image = _to_image(h_bytes, identity)
    polys = _tick_polys(kind, shape, c, r)
    n, k = polys.shape[:2]
    parts = list(to_image(polys).reshape(n, k, 1, 2))
    outlines = [to_image(geom.shape_points(shape, c, r * 0.96 * f)) for f in (0.95, 0.99)] if kind == "railway" else []
    for p in parts + outlines:
        p.flags.writeable = False
    return parts, outlines


def _tick_polys(kind: str, shape: str, c: tuple[float, float], r: float) -> np.ndarray:
    """(n, k, 2) dial-space polygons of the index marks."""
    m = np.arange(60)
    hour = m % 5 == 0
    d = m * 6.0
    b = geom.boundaries(shape, d) * r * 0.96
    if kind in ("dots", "minute-dots"):
        keep = np.nonzero(hour if kind == "dots" else np.ones(60, bool))[0]
        rad = np.where(hour, r * (0.035 if kind == "dots" else 0.03), r * 0.012)
        rad = np.where(m % 15 == 0, rad * (1.4 if kind == "dots" else 1.0), rad)
        pos = geom.polars(c, b * (0.9 if kind == "dots" else 0.95), d)
        return geom.circle((0.0, 0.0), 1.0, 16)[None] * rad[keep, None, None] + pos[keep, None, :]
    if kind in ("12", "batons"):
        sel = np.nonzero(hour)[0]
        inner = 0.78 if kind == "batons" else 0.88
        return geom.quads(geom.polars(c, b[sel] * inner, d[sel]), geom.polars(c, b[sel] * 0.98, d[sel]),
                          r * (0.06 if kind == "batons" else 0.025))
    p = geom.polars(c, b * np.where(hour, 0.9, 0.95), d)  # 60, railway, double
    polys = geom.quads(p, geom.polars(c, b * 0.99, d), np.where(hour, r * 0.025, r * 0.01))
    if kind == "double":
        sel = np.nonzero(hour)[0]
        polys = np.concatenate([polys] + [geom.quads(geom.polars(c, b[sel] * 0.8, d[sel] + off),
                                                     geom.polars(c, b[sel] * 0.88, d[sel] + off), r * 0.02)
                                          for off in (-2.0, 2.0)])
    return polys


@functools.lru_cache(maxsize=512)
def bezel_parts(kind: str, shape: str, c: tuple[float, float], r: float, h_bytes: bytes,
                 identity: bool) -> tuple[np.ndarray, list[np.ndarray], np.ndarray | None, list[float]]:
    """A bezel's geometry in image fixed point (the disc, the minute marks, the 12 o'clock triangle)
    and its edge distance per minute: a function of the body, shared by all its faces."""
    to_image = _to_image(h_bytes, identity)
    m = np.arange(60)
    b = geom.boundaries(shape, m * 6.0)
    marks: list[np.ndarray] = []
    if kind in ("diver", "knurled"):
        sel = np.ones(60, bool) if kind == "knurled" else (m > 0) & ((m % 10 > 0) | (m > 15))
        lo, hi = (0.97, 1.0) if kind == "knurled" else (0.93, 0.98)
        d, rb = m[sel] * 6.0, r * b[sel]
        q = geom.quads(geom.polars(c, rb * lo, d), geom.polars(c, rb * hi, d), 2.0 if kind == "knurled" else 1.5)
        marks = list(to_image(q).reshape(len(q), 4, 1, 2))
    tri = None
    if kind in ("diver", "numbers"):
        tri = to_image(np.array([polar(c, r * 0.9, 0), polar(c, r * 0.99, -4), polar(c, r * 0.99, 4)]))
    disc = to_image(geom.shape_points(shape, c, r))
    for p in [disc, *marks] + ([tri] if tri is not None else []):
        p.flags.writeable = False
    return disc, marks, tri, b.tolist()
