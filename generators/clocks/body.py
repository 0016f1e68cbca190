"""Watch bodies: a fixed library of strap, case and pose designs, rendered once per process.

PixMo-Clocks renders its ~160k faces into about 50 watch bodies; here, likewise, every face is
set in one of ``len(LIBRARY)`` bodies (shape, case, strap, metal, size, position and
perspective), each a pure function of its index, the same for every seed. A face draws its body
among those its family allows; the body's pixels (drawn once over black and once over white, so
its anti-aliased edges blend exactly) are cached per (body, size) and composited over each
face's own background, saving the strap and case fills of every face.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from generators.clocks import geom
from generators.clocks.canvas import Canvas
from generators.clocks.geom import polar


def luminance(c: tuple[int, int, int]) -> float:
    return (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255.0


METALS = [(192, 194, 198), (150, 152, 158), (212, 175, 90), (190, 120, 90), (40, 40, 44), (230, 230, 232),
          (110, 112, 118)]
STRAPS = [(30, 28, 26), (90, 56, 30), (140, 90, 50), (20, 30, 60), (160, 160, 166), (40, 70, 40), (200, 60, 50),
          (230, 230, 225), (60, 60, 64)]
STRAP_KINDS = ("leather", "bracelet", "rubber", "nato")
DEFAULT_CASES = ("none", "watch", "smart", "wall")  # the cases a family that fixes none may get
_ALL_SHAPES = ("round", "square", "rounded", "octagon", "hexagon", "cushion", "oval")
# (shape, case) of each body: every shape in every default case, plus more of what families ask for
SLOTS: tuple[tuple[str, str], ...] = (
    tuple((s, c) for s in _ALL_SHAPES for c in ("watch", "watch", "smart", "wall", "none"))
    + (("round", "pocket"),) * 3 + (("round", "alarm"),) * 3
    + (("round", "watch"),) * 7 + (("round", "smart"),) * 4 + (("round", "wall"),) * 3 + (("round", "none"),) * 2
    + (("rounded", "watch"),) * 3 + (("rounded", "smart"),) * 4)


@dataclass(frozen=True)
class Body:
    index: int
    shape: str
    case: str
    case_color: tuple[int, int, int]
    strap_color: tuple[int, int, int]
    strap_kind: str
    radius: float  # fraction of the canvas
    center: tuple[float, float]  # fraction of the canvas
    warp: float  # perspective strength, 0 for none
    lighting: float  # strength of the light falling off across the picture, 0 for none
    light_angle: float  # radians: the direction the light falls off towards


def rgb(values: Any) -> tuple[int, int, int]:
    """Three numbers as an RGB colour: ints clamped to 0..255."""
    r, g, b = (min(255, max(0, int(v))) for v in values)
    return r, g, b


def _jitter(rng: np.random.Generator, c: tuple[int, int, int], amount: int = 12) -> tuple[int, int, int]:
    d = rng.integers(-amount, amount + 1, 3)
    return rgb(v + e for v, e in zip(c, d, strict=True))


@functools.cache
def body(index: int) -> Body:
    """Body ``index`` of the library: a pure function of the index."""
    if not 0 <= index < len(SLOTS):
        raise ValueError(f"body index must be in [0, {len(SLOTS)}), got {index}")
    shape, case = SLOTS[index]
    rng = np.random.default_rng([0xB0D1E5, index])
    radius = rng.uniform(0.36, 0.43) if case == "wall" else rng.uniform(0.27, 0.36)
    center = (float(rng.uniform(0.46, 0.54)), float(rng.uniform(0.46, 0.54)))
    warp = float(rng.uniform(0.0, 1.0)) if rng.random() < 0.6 else 0.0
    metal = METALS[int(rng.integers(len(METALS)))]
    strap = _jitter(rng, STRAPS[int(rng.integers(len(STRAPS)))])
    light, angle = float(rng.uniform(0.0, 0.35)), float(rng.uniform(0, 2 * np.pi))
    return Body(index, shape, case, metal, strap, STRAP_KINDS[index % len(STRAP_KINDS)], float(radius), center, warp,
                light, angle)


LIBRARY: tuple[Body, ...] = tuple(body(i) for i in range(len(SLOTS)))


@functools.cache
def candidates(shape: str | None, case: str | None, nato: bool) -> tuple[int, ...]:
    """Indices of the bodies a family allows: its shape and case if it fixes them (else any shape,
    a default case), and a NATO strap only when it asks for one."""
    out = tuple(b.index for b in LIBRARY if (shape is None or b.shape == shape)
                and (b.case == case if case else b.case in DEFAULT_CASES)
                and (b.strap_kind == "nato" if nato else b.strap_kind != "nato" or b.case not in ("watch", "smart")))
    if not out:
        raise ValueError(f"no watch body with shape={shape} case={case} nato={nato}")
    return out


def shade(c: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return rgb(v * f for v in c)


def _strap(cv: Canvas, b: Body, c: tuple[float, float], r: float) -> None:
    w = r * (1.05 if b.case == "watch" else 1.25)
    s = cv.arr.shape[0]
    cv.fill([np.array([(c[0] - w / 2, -5), (c[0] + w / 2, -5), (c[0] + w / 2, s + 5), (c[0] - w / 2, s + 5)])],
            b.strap_color)
    kind = b.strap_kind
    edge = shade(b.strap_color, 0.7 if luminance(b.strap_color) > 0.3 else 1.6)
    ys = np.arange(r * 1.4, s, r * (0.18 if kind == "bracelet" else 0.4))
    ys = np.concatenate([c[1] - ys, c[1] + ys])
    if kind == "bracelet" and len(ys):
        left, right = np.stack([np.full_like(ys, c[0] - w / 2), ys], 1), np.stack([np.full_like(ys, c[0] + w / 2), ys], 1)
        cv.fill(geom.quads(left, right, 1.5), edge, disjoint=True)
    elif kind == "rubber":
        studs = np.stack([np.full_like(ys, c[0]), ys], 1)[:, None, :]
        cv.fill(geom.circle((0.0, 0.0), r * 0.04, 12)[None] + studs, edge, disjoint=True)
    elif kind == "nato":
        xs = np.array([c[0] - w / 6, c[0] + w / 6])
        cv.fill(geom.quads(np.stack([xs, [0, 0]], 1), np.stack([xs, [s, s]], 1), w / 10), edge, disjoint=True)
    lugs = [np.array([(c[0] + sx * w * 0.5, c[1] + sy * r * 0.8), (c[0] + sx * w * 0.42, c[1] + sy * r * 1.38),
                      (c[0] + sx * w * 0.3, c[1] + sy * r * 1.38), (c[0] + sx * w * 0.2, c[1] + sy * r * 0.8)])
            for sx in (-1, 1) for sy in (-1, 1)]
    cv.fill(lugs, b.case_color, disjoint=True)
    crown = np.array([(c[0] + r * 1.12, c[1] - r * 0.1), (c[0] + r * 1.26, c[1] - r * 0.1),
                      (c[0] + r * 1.26, c[1] + r * 0.1), (c[0] + r * 1.12, c[1] + r * 0.1)])
    cv.fill([crown], shade(b.case_color, 0.85))


def strap_and_case(cv: Canvas, b: Body, c: tuple[float, float], r: float) -> None:
    metal = b.case_color
    if b.case in ("watch", "smart"):
        _strap(cv, b, c, r)
    elif b.case == "pocket":
        top = polar(c, r * 1.3, 0)
        cv.ring("round", (top[0], top[1] - r * 0.12), r * 0.18, metal, max(2.0, r * 0.07))
        cv.fill([np.array([(top[0] - r * 0.1, top[1]), (top[0] + r * 0.1, top[1]),
                           (top[0] + r * 0.1, top[1] + r * 0.2), (top[0] - r * 0.1, top[1] + r * 0.2)])], metal)
    elif b.case == "alarm":
        for d in (-38, 38):
            cv.disc(polar(c, r * 1.22, d), r * 0.32, metal)
        for d in (-145, 145):
            cv.line(polar(c, r * 1.0, d), polar(c, r * 1.35, d), shade(metal, 0.6), r * 0.08)
    scale = {"none": 1.0, "wall": 1.16, "pocket": 1.12, "alarm": 1.12}.get(b.case, 1.14)
    if scale > 1.0:
        outline = geom.shape_points(b.shape, c, r * scale)
        cv.fill([outline + r * 0.02], shade(metal, 0.55))
        cv.fill([outline], metal)
        cv.ring(b.shape, c, r * (scale - 0.015), shade(metal, 1.3), 2)


@functools.lru_cache(maxsize=256)
def homography(index: int, size: int, warp: bool) -> np.ndarray:
    """The body's dial-to-image homography (read-only: it is shared by every face of the body)."""
    b = body(index)
    h = geom.warp_matrix(np.random.default_rng([0xB0D1E5, index, size]), size, b.warp) if warp else np.eye(3)
    h.flags.writeable = False
    return h


@functools.lru_cache(maxsize=256)
def pixels(index: int, size: int, warp: bool) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray, np.ndarray,
                                                        np.ndarray, np.ndarray]:
    """Body ``index`` at ``size``: the box (rows, columns) of its covered pixels, its image over
    black and a mask of its opaque pixels in that box; then the flat indices of the channels of
    its partly covering pixels, their value over black and their (over white - over black), i.e.
    how much of the background shows through, out of 255."""
    b = body(index)
    c, r = (b.center[0] * size, b.center[1] * size), b.radius * size
    over = []
    for v in (0, 255):
        cv = Canvas(np.full((size, size, 3), v, np.uint8), homography(index, size, warp),
                    identity=not (warp and b.warp > 0))
        strap_and_case(cv, b, c, r)
        over.append(cv.arr)
    black, white = over
    diff = white.astype(np.uint16) - black
    opaque = (diff == 0).all(2)
    edge = np.flatnonzero(~(diff == 255).all(2) & ~opaque)
    rows, cols = np.flatnonzero(opaque.any(1)), np.flatnonzero(opaque.any(0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)) if len(rows) else (slice(0, 0), slice(0, 0))
    edge = (edge[:, None] * 3 + np.arange(3)).ravel()
    return (box, black[box].copy(), opaque[box].astype(np.uint8), edge, black.reshape(-1)[edge].astype(np.uint16),
            diff.reshape(-1)[edge])


@functools.lru_cache(maxsize=256)
def light(index: int, size: int) -> np.ndarray | None:
    """What the body's lighting takes off each pixel (a smooth gradient, (size, size, 3) uint8), or
    None if it is too faint to draw; subtracted from every face of the body after its dial."""
    b = body(index)
    if b.lighting < 0.05:
        return None
    t = np.linspace(-1, 1, 8, dtype=np.float32)
    g = b.lighting * 60 * (1 + np.cos(b.light_angle) * t[None, :] + np.sin(b.light_angle) * t[:, None])
    shade_map = cv2.resize(np.clip(g, 0, 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_LINEAR)
    out = cv2.cvtColor(shade_map, cv2.COLOR_GRAY2RGB)
    out.flags.writeable = False
    return out


def composite(bg: np.ndarray, index: int, warp: bool) -> None:
    """Draw body ``index`` over ``bg`` (in place): opaque pixels copied, edges blended exactly."""
    box, black, opaque, edge, over_black, through = pixels(index, bg.shape[0], warp)
    if black.size:
        cv2.copyTo(black, opaque, bg[box])  # writes into the view
    flat = bg.reshape(-1)
    t = through * flat[edge]
    t += 128  # round(t / 255) for t <= 255 * 255, in integers
    t += t >> 8
    t >>= 8
    t += over_black
    flat[edge] = t


def describe(b: Body) -> dict[str, Any]:
    return {"body": b.index, "shape": b.shape, "case": b.case, "strap": b.strap_kind}
