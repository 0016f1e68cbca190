"""Render one example: the face's cached static layer plus hands, windows and digits for a time.

``render`` returns the RGB array and a ``Scene``: for each hand its clock angle, its centre and
tip and its polygons in image pixels, so tests (and users) can check a label against the pixels.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from generators.clocks import body as bodies
from generators.clocks import dial, geom
from generators.clocks.canvas import Canvas
from generators.clocks.spec import FaceSpec, HandSpec, luminance

WEEKDAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
# segments a..g of a 7-segment digit; " " and "-" included
SEGMENTS = {"0": "abcdef", "1": "bc", "2": "abged", "3": "abgcd", "4": "fgbc", "5": "afgcd", "6": "afgedc",
            "7": "abc", "8": "abcdefg", "9": "abcdfg", " ": "", "-": "g"}
MIN_SHAFT = 2.4  # px: every hand is at least this wide along its centre line


@dataclass
class ClockTime:
    hour: int  # 0-23
    minute: int
    second: int
    day: int = 1
    weekday: int = 0


@dataclass
class HandScene:
    name: str  # hour, minute, second
    angle: float  # degrees clockwise from 12 o'clock, in the dial's own frame
    length: float  # dial pixels
    center_dial: tuple[float, float]
    center: tuple[float, float]  # image pixels
    tip: tuple[float, float]  # image pixels
    polygons: list[list[list[float]]]  # image pixels, [x, y] per point
    color: tuple[int, int, int]


@dataclass
class Scene:
    family: str
    size: tuple[int, int]
    center: tuple[float, float]
    radius: float
    homography: list[list[float]]
    hands: list[HandScene] = field(default_factory=list)
    digital_text: str | None = None
    ampm_text: str | None = None
    shows_time: bool = True
    caps: list[list[tuple[float, float]]] = field(default_factory=list)  # centre caps over the hands, image px

    def compact(self) -> dict[str, Any]:
        """The part worth keeping in an annotation's meta: angles and tips, rounded."""
        return {"hands": {h.name: {"angle": round(h.angle, 3), "tip": [round(v, 1) for v in h.tip]} for h in self.hands},
                "digital": self.digital_text, "ampm": self.ampm_text}


def hand_angles(t: ClockTime) -> dict[str, float]:
    """Smooth (sweeping) hand angles for a time."""
    return {"hour": 30.0 * ((t.hour % 12) + t.minute / 60 + t.second / 3600),
            "minute": 6.0 * (t.minute + t.second / 60), "second": 6.0 * t.second}


def _leaf(w: float, length: float) -> list[tuple[float, float]]:
    vs = [length * i / 9 for i in range(10)]
    half = [max(MIN_SHAFT / 2, w * 0.6 * max(0.0, math.sin(math.pi * v / length)) ** 0.7) for v in vs]
    return [(h, v) for h, v in zip(half, vs, strict=True)] + [(-h, v) for h, v in reversed(list(zip(half, vs, strict=True)))]


@functools.lru_cache(maxsize=256)
def hand_shape(style: str, w: float, length: float, tail: float) -> list[list[tuple[float, float]]]:
    """Polygons of a hand in local (across, along) coordinates, tip at (0, length)."""
    s = max(MIN_SHAFT, w * 0.4) / 2  # half shaft width
    h = max(MIN_SHAFT, w) / 2
    tail_rect = [(-s, -tail), (s, -tail), (s, 0.0), (-s, 0.0)]
    if style == "baton":
        return [[(-h, -tail), (h, -tail), (h, length), (-h, length)]]
    if style == "pencil":
        return [[(-h, -tail), (h, -tail), (h, length - 2 * h), (0, length), (-h, length - 2 * h)]]
    if style == "sword":
        return [[(-s, -tail), (s, -tail), (h, 0.3 * length), (h, 0.82 * length), (0, length), (-h, 0.82 * length),
                 (-h, 0.3 * length)]]
    if style == "dauphine":
        return [tail_rect, [(-s, 0), (s, 0), (1.2 * h, 0.15 * length), (0, length), (-1.2 * h, 0.15 * length)]]
    if style == "leaf":
        return [tail_rect, _leaf(w, length)]
    if style in ("arrow", "skeleton-tip"):
        head = 0.75 if style == "arrow" else 0.62
        return [[(-s, -tail), (s, -tail), (s, head * length), (-s, head * length)],
                [(-1.5 * h, head * length), (1.5 * h, head * length), (0, length)] if style == "arrow"
                else [(0, head * length - 2 * h), (1.6 * h, 0.82 * length), (0, length), (-1.6 * h, 0.82 * length)]]
    if style == "lollipop":
        c = 0.72 * length
        disc = [(1.8 * h * math.cos(a), c + 1.8 * h * math.sin(a)) for a in (math.pi * k / 10 for k in range(20))]
        return [[(-s, -tail), (s, -tail), (s, length), (-s, length)], disc]
    if style == "syringe":
        return [[(-s, -tail), (s, -tail), (s, length), (-s, length)],
                [(-h, 0.5 * length), (h, 0.5 * length), (h, 0.82 * length), (-h, 0.82 * length)]]
    if style == "plongeur":
        return [tail_rect, [(-1.3 * h, 0.08 * length), (1.3 * h, 0.08 * length), (1.3 * h, 0.8 * length), (0, length),
                            (-1.3 * h, 0.8 * length)]]
    raise ValueError(f"unknown hand style {style!r}")


@functools.lru_cache(maxsize=256)
def _hand_points(style: str, w: float, length: float, tail: float) -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """The hand's polygons as one (n, 1, 2) local array, then its tip and centre; and each polygon's rows."""
    pts: list[tuple[float, float]] = []
    rows = []
    for poly in hand_shape(style, w, length, tail):
        rows.append((len(pts), len(pts) + len(poly)))
        pts += poly
    return np.array(pts + [(0.0, length), (0.0, 0.0)], dtype=np.float64).reshape(-1, 1, 2), tuple(rows)


_SHADOW = np.array([24, 40], dtype=np.int32)  # the (1.5, 2.5) px offset of a hand's shadow, in fixed point


# hand styles whose polygons only touch (never overlap), so one fillPoly call can draw them all
_DISJOINT = {"baton", "pencil", "sword", "dauphine", "leaf", "plongeur", "arrow"}


def _fill_parts(arr: np.ndarray, pts: np.ndarray, rows: tuple[tuple[int, int], ...], color: tuple[int, ...],
                together: bool) -> None:
    if together:
        cv2.fillPoly(arr, [pts[a:b] for a, b in rows], color, cv2.LINE_AA, geom.SHIFT)
        return
    for a, b in rows:  # one call each: one call un-fills where polygons overlap
        cv2.fillPoly(arr, [pts[a:b]], color, cv2.LINE_AA, geom.SHIFT)


@dataclass
class _HandPlan:
    """What a face's hand needs for every example: its local polygons, where, and its colours."""

    name: str
    local: np.ndarray  # (n, 1, 2): polygons, then tip and centre, in (across, along) coordinates
    rows: tuple[tuple[int, int], ...]
    center: tuple[float, float]  # dial coordinates
    length: float
    color: tuple[int, int, int]
    shadow: tuple[int, int, int] | None
    together: bool  # the polygons never overlap: draw them in one call


def _plan(name: str, hs: HandSpec, c: tuple[float, float], r: float, shadow: tuple[int, int, int] | None) -> _HandPlan:
    length, width = hs.length * r, hs.width * r
    style = hs.style if name != "second" else ("lollipop" if hs.style == "lollipop" else "baton")
    local, rows = _hand_points(style, width, length, hs.tail * r)
    return _HandPlan(name, local, rows, c, length, hs.color, shadow, style in _DISJOINT)


def _draw_hand(arr: np.ndarray, h: list[list[float]], p: _HandPlan, deg: float) -> HandScene:
    """Draw one hand (and its shadow) in one mapping and one fixed-point rounding."""
    ca, sa = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    cx, cy = p.center
    # local (across, along) -> dial (tip at clock angle deg) -> image: h times the rotation, in floats
    m = np.array([[r0 * ca + r1 * sa, r0 * sa - r1 * ca, r0 * cx + r1 * cy + r2] for r0, r1, r2 in h])
    mapped = cv2.perspectiveTransform(p.local, m)
    fx = np.rint(mapped * geom.ONE).astype(np.int32)
    if p.shadow is not None:
        _fill_parts(arr, fx + _SHADOW, p.rows, p.shadow, p.together)
    _fill_parts(arr, fx, p.rows, p.color, p.together)
    flat = mapped.reshape(-1, 2).tolist()
    return HandScene(p.name, deg, p.length, p.center, tuple(flat[-1]), tuple(flat[-2]),  # type: ignore[arg-type]
                     [flat[a:b] for a, b in p.rows], p.color)


def _cap(arr: np.ndarray, lay: dial.Layout, c: tuple[float, float], r: float, n: int, color: tuple[int, int, int],
         caps: list[list[tuple[float, float]]]) -> None:
    """The centre cap over the hands (its polygon is the same for every example of the face)."""
    key = ("cap", c, r, n)
    if key not in lay.memo:
        cap = geom.apply_h(lay.h, geom.circle(c, r, n))
        lay.memo[key] = geom.fixed(cap), list(map(tuple, cap.tolist()))
    fx, pts = lay.memo[key]
    cv2.fillPoly(arr, [fx], color, cv2.LINE_AA, geom.SHIFT)
    caps.append(list(pts))


def _hand_plans(face: FaceSpec, lay: dial.Layout) -> tuple[list[_HandPlan], list[tuple[Any, ...]]]:
    """The face's hands (in drawing order) and centre caps (drawn after the hands listed before them)."""
    c, r = lay.center, lay.radius * geom.inner(face.shape) * (0.95 if face.ticks != "none" else 1.0)
    shadow = tuple(int(v * 0.55) for v in face.dial) if luminance(face.dial) > 0.3 else None
    plans = [_plan("hour", face.hour, c, r, shadow), _plan("minute", face.minute, c, r, shadow)]  # type: ignore[arg-type]
    if face.second is not None and not face.second_subdial:
        plans.append(_plan("second", face.second, c, r, shadow))  # type: ignore[arg-type]
    caps = [(len(plans), c, max(MIN_SHAFT, face.hour.width * r * 0.6), 24, face.cap_color)]
    if face.second is not None and face.second_subdial and lay.subsec:
        sx, sy, sr = lay.subsec
        sub = HandSpec("baton", face.second.color, 0.85, max(MIN_SHAFT, face.second.width * r) / sr, 0.15)
        plans.append(_plan("second", sub, (sx, sy), sr, None))
        caps.append((len(plans), (sx, sy), MIN_SHAFT * 1.2, 16, face.second.color))
    return plans, caps


def draw_hands(arr: np.ndarray, face: FaceSpec, lay: dial.Layout, t: ClockTime,
               caps: list[list[tuple[float, float]]]) -> list[HandScene]:
    if "hands" not in lay.memo:
        lay.memo["hands"] = _hand_plans(face, lay)
    plans, cap_specs = lay.memo["hands"]
    ang, h = hand_angles(t), lay.h.tolist()
    scenes, done = [], 0
    for after, c, r, n, color in cap_specs:
        scenes += [_draw_hand(arr, h, p, ang[p.name]) for p in plans[done:after]]
        _cap(arr, lay, c, r, n, color, caps)
        done = after
    return scenes


def _segment_polys(ch: str, x: float, y: float, w: float, h: float) -> list[np.ndarray]:
    t = max(1.5, w * 0.16)
    hh = h / 2
    segs = {"a": (x, y, x + w, y), "b": (x + w, y, x + w, y + hh), "c": (x + w, y + hh, x + w, y + h),
            "d": (x, y + h, x + w, y + h), "e": (x, y + hh, x, y + h), "f": (x, y, x, y + hh), "g": (x, y + hh, x + w, y + hh)}
    out = []
    for s in SEGMENTS.get(ch, ""):
        ax, ay, bx, by = segs[s]
        if ay == by:
            out.append(np.array([(ax + t * 0.6, ay), (ax + t, ay - t / 2), (bx - t, by - t / 2), (bx - t * 0.6, by),
                                 (bx - t, by + t / 2), (ax + t, ay + t / 2)]))
        else:
            out.append(np.array([(ax, ay + t * 0.6), (ax + t / 2, ay + t), (bx + t / 2, by - t), (bx, by - t * 0.6),
                                 (bx - t / 2, by - t), (ax - t / 2, ay + t)]))
    return out


def _seven_segment_parts(pattern: str, box: tuple[float, float, float, float],
                         h: np.ndarray) -> dict[tuple[int, str], np.ndarray]:
    """Every segment ('a'-'g') of every digit and both dots ('0', '1') of every colon of a display laid
    out like ``pattern`` in a dial-space box: image polygons in fixed point, by (position, part)."""
    x0, y0, x1, y1 = box
    n_dig, n_col = sum(ch != ":" for ch in pattern), pattern.count(":")
    unit = (x1 - x0) / (n_dig * 1.35 + n_col * 0.5 + 0.4)
    dh = min((y1 - y0) * 0.72, unit * 2.0)
    y = (y0 + y1) / 2 - dh / 2
    x, keys, polys = x0 + unit * 0.35, [], []
    for i, ch in enumerate(pattern):
        if ch == ":":
            for k, fy in enumerate((0.3, 0.7)):
                keys.append((i, str(k)))
                polys.append(geom.circle((x + unit * 0.2, y + dh * fy), max(1.2, unit * 0.1), 8))
            x += unit * 0.5
            continue
        keys += [(i, seg) for seg in SEGMENTS["8"]]
        polys += _segment_polys("8", x, y, unit, dh)
        x += unit * 1.35
    flat = geom.fixed(geom.apply_h(h, np.concatenate(polys)))
    return dict(zip(keys, geom.split(flat, [len(p) for p in polys]), strict=True))


def seven_segment(arr: np.ndarray, text: str, box: tuple[float, float, float, float], color: tuple[int, int, int],
                  h: np.ndarray, memo: dict[Any, Any] | None = None) -> None:
    """``text`` of digits, spaces, '-' and ':' as 7-segment glyphs filling a dial-space box (the
    segments' polygons are kept in ``memo``, the face's, for the next time)."""
    pattern = "".join(":" if ch == ":" else "8" for ch in text)
    memo = {} if memo is None else memo
    key = ("7seg", pattern, box)
    if key not in memo:
        memo[key] = _seven_segment_parts(pattern, box, h)
    parts = memo[key]
    lit = [parts[(i, p)] for i, ch in enumerate(text) for p in ("01" if ch == ":" else SEGMENTS.get(ch, ""))]
    if lit:
        cv2.fillPoly(arr, lit, color, cv2.LINE_AA, geom.SHIFT)


def digital_string(face: FaceSpec, t: ClockTime, shown: bool) -> tuple[str, str | None]:
    """(the digits as displayed, the AM/PM indicator or None) for a digital face."""
    d = face.digital
    assert d is not None
    if not shown:
        return ("--:--" + (":--" if d.seconds else "")), None
    hh = f"{t.hour:02d}" if d.h24 else f"{t.hour % 12 or 12:>2d}"
    s = f"{hh}:{t.minute:02d}" + (f":{t.second:02d}" if d.seconds else "")
    ampm = None if d.h24 or not face.ampm_window else ("AM" if t.hour < 12 else "PM")
    return s, ampm


def render(face: FaceSpec, layer: tuple[np.ndarray, dial.Layout], t: ClockTime, *, shown: bool = True,
           hands: bool = True) -> tuple[np.ndarray, Scene]:
    """Draw the time-dependent parts on a copy of the face's static layer."""
    base, lay = layer
    arr = base.copy()
    cv = Canvas(arr, lay.h, identity=lay.identity)
    scene = Scene(face.family, (arr.shape[1], arr.shape[0]), lay.center_px, lay.radius, lay.h.tolist(), shows_time=shown)
    bold, ink = "DejaVuSans-Bold.ttf", lay.window_ink
    if "date" in lay.boxes:
        cv.text_in_box(str(t.day), lay.boxes["date"], ink if face.digital is None else face.digital.ink, bold)
    if "day" in lay.boxes:
        cv.text_in_box(WEEKDAYS[t.weekday], lay.boxes["day"], ink, bold)
    if face.digital is not None:
        text, ampm = digital_string(face, t, shown)
        scene.digital_text, scene.ampm_text = text, ampm
        box = lay.boxes["digital"]
        if face.digital.kind == "7seg":
            seven_segment(arr, text, box, face.digital.ink, lay.h, lay.memo)
        else:
            cv.text_in_box(text.strip(), box, face.digital.ink, face.digital.font)
        if ampm:
            x0, y0, x1, y1 = box
            cv.text_in_box(ampm, (x0, y0 - (y1 - y0) * 0.4, x0 + (x1 - x0) * 0.3, y0), face.digital.ink, bold)
        return arr, scene
    if shown and "ampm" in lay.boxes:
        scene.ampm_text = "AM" if t.hour < 12 else "PM"
        cv.text_in_box(scene.ampm_text, lay.boxes["ampm"], ink, bold)
    if shown and face.hybrid_digital:
        scene.digital_text = f"{t.hour:02d}:{t.minute:02d}"
        cv.text_in_box(scene.digital_text, lay.boxes["digital"], (120, 240, 255), "DejaVuSansMono-Bold.ttf")
    if shown and hands:
        scene.hands = draw_hands(arr, face, lay, t, scene.caps)
    return arr, scene


def build_layer(face: FaceSpec, size: int, rng: np.random.Generator, warp: bool = True) -> tuple[np.ndarray, dial.Layout]:
    """The static layer of a face, drawn straight into image pixels through its homography."""
    c = (face.center[0] * size, face.center[1] * size)
    r = face.radius * size
    h = bodies.homography(face.body, size, warp)
    bg = dial.background(face, size, rng)
    bodies.composite(bg, face.body, warp)  # the body's cached pixels: strap, lugs, case
    cv = Canvas(bg, h, identity=not (warp and face.warp > 0))
    texts: list[dial.Text] = []
    rd = dial.bezel(cv, texts, face, c, r)
    cen = cv.map(np.array([c]))[0]
    lay = dial.Layout(size, c, rd, h, identity=cv.identity, center_px=(float(cen[0]), float(cen[1])),
                      window_ink=dial.window_colors(face)[1])
    dial.dial_fill(cv, face, c, rd, rng)
    if face.digital is None:
        dial.ticks(cv, face, c, rd)
        dial.numerals(texts, face, c, rd, rng)
        dial.subdials(cv, face, lay, rng)
    dial.windows(cv, face, lay)
    if face.digital is not None and face.digital.ghost and face.digital.kind == "7seg":
        ghost = bodies.rgb(0.82 * p + 0.18 * k for p, k in zip(face.digital.panel, face.digital.ink, strict=True))
        pattern = "88:88" + (":88" if face.digital.seconds else "")
        seven_segment(cv.arr, pattern, lay.boxes["digital"], ghost, h, lay.memo)
    dial.brand(texts, face, lay)
    dial.draw_texts(cv, texts)
    arr, shade_map = cv.arr, bodies.light(face.body, size)
    if shade_map is not None:  # the body's light, the same for all its faces
        cv2.subtract(arr, shade_map, dst=arr)
    if face.glare:
        dial.glare(arr, lay, rng)
    return arr, lay
