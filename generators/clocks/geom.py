"""Geometry for clock faces: angles clockwise from 12 o'clock, dial shapes, homographies.

All drawing goes through OpenCV with anti-aliasing and 4 bits of sub-pixel precision; colours
are RGB tuples on RGB arrays (OpenCV does not care about channel order when drawing).
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

SHIFT = 4
ONE = 1 << SHIFT
_SUPER = {"round": 2.0, "oval": 2.0, "cushion": 3.0, "rounded": 5.0, "square": 14.0}
_POLY = {"octagon": 8, "hexagon": 6}


def polar(c: tuple[float, float], r: float, deg: float) -> tuple[float, float]:
    """The point at radius ``r`` and clock angle ``deg`` (0 = 12 o'clock, clockwise)."""
    a = math.radians(deg)
    return c[0] + r * math.sin(a), c[1] - r * math.cos(a)


def boundary(shape: str, deg: float) -> float:
    """Distance from the centre to the dial edge at ``deg``, as a fraction of the radius."""
    return float(boundaries(shape, np.array([deg], dtype=np.float64))[0])


def boundaries(shape: str, degs: np.ndarray) -> np.ndarray:
    """``boundary`` for an array of angles."""
    a = np.radians(degs)
    if shape in _POLY:
        n = _POLY[shape]
        sector = 2 * math.pi / n
        rel = (a + sector / 2) % sector - sector / 2
        return math.cos(math.pi / n) / np.cos(rel)
    sx, cy = np.abs(np.sin(a)), np.abs(np.cos(a))
    if shape == "oval":
        sx = sx / 0.84
    p = _SUPER.get(shape, 2.0)
    return 1.0 / (sx**p + cy**p) ** (1.0 / p)


def polars(c: tuple[float, float], r: np.ndarray | float, degs: np.ndarray) -> np.ndarray:
    """(n, 2) points at radii ``r`` and clock angles ``degs``."""
    a = np.radians(degs)
    return np.stack([c[0] + r * np.sin(a), c[1] - r * np.cos(a)], axis=1)


@functools.cache
def inner(shape: str) -> float:
    """The smallest edge distance of a shape: hands and indices must fit inside it."""
    return float(boundaries(shape, np.arange(0.0, 360.0, 2.5)).min())


@functools.lru_cache(maxsize=64)
def _unit_shape(shape: str, n: int) -> np.ndarray:
    degs = np.linspace(0.0, 360.0, n, endpoint=False)
    return polars((0.0, 0.0), boundaries(shape, degs), degs)


def shape_points(shape: str, c: tuple[float, float], r: float, n: int = 96) -> np.ndarray:
    """An (n, 2) float polygon outlining the dial shape."""
    return _unit_shape(shape, n) * r + c


def fixed(pts: np.ndarray) -> np.ndarray:
    """Float points to OpenCV's fixed-point int32 (used with ``shift=SHIFT``), shape (n, 1, 2)."""
    return np.rint(np.asarray(pts, dtype=np.float64).reshape(-1, 1, 2) * ONE).astype(np.int32)


def split(flat: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """``flat`` cut into consecutive pieces of these lengths (views; cheaper than ``np.split``)."""
    out, a = [], 0
    for n in sizes:
        out.append(flat[a:a + n])
        a += n
    return out


def fixed_all(polys: list[np.ndarray]) -> list[np.ndarray]:
    """``fixed`` for many polygons at once (one rounding pass instead of one per polygon)."""
    if len(polys) == 1:
        return [fixed(polys[0])]
    flat = fixed(np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polys]))
    return split(flat, [len(p) for p in polys])


def fill(arr: np.ndarray, polys: list[np.ndarray], color: tuple[int, ...]) -> None:
    """Fill polygons; each on its own, since one fillPoly call un-fills where contours overlap."""
    for p in fixed_all(polys):
        cv2.fillPoly(arr, [p], color, cv2.LINE_AA, SHIFT)


def line(arr: np.ndarray, p: tuple[float, float], q: tuple[float, float], color: tuple[int, ...],
         width: float) -> None:
    """A thick line as a filled quad (OpenCV's thick lines ignore sub-pixel widths)."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    n = math.hypot(dx, dy) or 1.0
    ox, oy = -dy / n * width / 2, dx / n * width / 2
    quad = np.array([(p[0] + ox, p[1] + oy), (q[0] + ox, q[1] + oy), (q[0] - ox, q[1] - oy), (p[0] - ox, p[1] - oy)])
    fill(arr, [quad], color)


def disc(arr: np.ndarray, c: tuple[float, float], r: float, color: tuple[int, ...]) -> None:
    fill(arr, [circle(c, r)], color)


@functools.lru_cache(maxsize=16)
def _unit_circle(n: int) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def circle(c: tuple[float, float], r: float, n: int = 40) -> np.ndarray:
    return _unit_circle(n) * r + np.asarray(c, dtype=np.float64)


def warp_matrix(rng: np.random.Generator, size: int, strength: float) -> np.ndarray:
    """A random rotation plus perspective tilt, as a 3x3 homography on a ``size`` canvas."""
    if strength <= 0:
        return np.eye(3)
    s = float(size)
    src = np.array([[0, 0], [s, 0], [s, s], [0, s]], dtype=np.float32)
    ang = math.radians(rng.uniform(-25, 25) * strength)
    scale = 1.0 - 0.12 * strength
    c = s / 2
    rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    dst = (src - c) @ rot.T * scale + c
    dst += rng.uniform(-0.07, 0.07, size=(4, 2)) * s * strength
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32)).astype(np.float64)


def to_image(h: np.ndarray, identity: bool, pts: np.ndarray) -> np.ndarray:
    """(n, 2) image points of dial points: through the homography ``h`` unless it is the identity."""
    return np.asarray(pts, dtype=np.float64).reshape(-1, 2) if identity else apply_h(h, pts)


def apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map (n, 2) points through a homography."""
    p = np.asarray(pts, dtype=np.float64).reshape(-1, 1, 2)
    if not len(p):
        return np.zeros((0, 2))
    return cv2.perspectiveTransform(p, np.asarray(h, dtype=np.float64)).reshape(-1, 2)


def quads(p: np.ndarray, q: np.ndarray, width: np.ndarray | float) -> np.ndarray:
    """Thick segments p[i]-q[i] as an (n, 4, 2) array of quads (vectorised ``line``)."""
    d = q - p
    n = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    o = np.stack([-d[:, 1], d[:, 0]], axis=1) / n * (np.asarray(width, dtype=np.float64).reshape(-1, 1) / 2)
    return np.stack([p + o, q + o, q - o, p - o], axis=1)
