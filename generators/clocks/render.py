"""Render one example: the face's cached static layer plus hands, windows and digits for a time.

``render`` returns the RGB array and a ``Scene``: for each hand its clock angle, its centre and
tip and its polygons in image pixels, so tests (and users) can check a label against the pixels.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generators.clocks import dial, geom
from generators.clocks.canvas import Canvas
from generators.clocks.spec import FaceSpec, HandSpec, luminance

WEEKDAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
# segments a..g of a 7-segment digit; " " and "-" included
SEGMENTS = {"0": "abcdef", "1": "bc", "2": "abged", "3": "abgcd", "4": "fgbc", "5": "afgcd", "6": "afgedc",
            "7": "abc", "8": "abcdefg", "9": "abcdfg", " ": "", "-": "g"}
MIN_SHAFT = 2.4  # px: every hand is at least this wide along its centre line
_EYE = np.eye(3)


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
    polygons: list[list[tuple[float, float]]]  # image pixels
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
    vs = np.linspace(0, length, 10)
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
        disc = [(1.8 * h * math.cos(a), c + 1.8 * h * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 20, endpoint=False)]
        return [[(-s, -tail), (s, -tail), (s, length), (-s, length)], disc]
    if style == "syringe":
        return [[(-s, -tail), (s, -tail), (s, length), (-s, length)],
                [(-h, 0.5 * length), (h, 0.5 * length), (h, 0.82 * length), (-h, 0.82 * length)]]
    if style == "plongeur":
        return [tail_rect, [(-1.3 * h, 0.08 * length), (1.3 * h, 0.08 * length), (1.3 * h, 0.8 * length), (0, length),
                            (-1.3 * h, 0.8 * length)]]
    raise ValueError(f"unknown hand style {style!r}")


def _to_dial(polys: list[list[tuple[float, float]]], c: tuple[float, float], deg: float) -> list[np.ndarray]:
    a = math.radians(deg)
    rot = np.array([[math.cos(a), math.sin(a)], [math.sin(a), -math.cos(a)]])
    return [np.asarray(poly, dtype=np.float64) @ rot + np.array(c) for poly in polys]


def _draw_hand(arr: np.ndarray, lay: dial.Layout, name: str, hs: HandSpec, c: tuple[float, float], r: float,
               deg: float, dial_rgb: tuple[int, int, int], shadow: bool) -> HandScene:
    length, width = hs.length * r, hs.width * r
    style = hs.style if name != "second" else ("lollipop" if hs.style == "lollipop" else "baton")
    polys = _to_dial(hand_shape(style, width, length, hs.tail * r), c, deg)
    mapped = geom.apply_h(lay.h, np.concatenate(polys + [np.array([geom.polar(c, length, deg), c])]))
    out, k = [], 0
    for p in polys:
        out.append(mapped[k:k + len(p)])
        k += len(p)
    tip, cen = mapped[-2], mapped[-1]
    if shadow:
        geom.fill(arr, [p + (1.5, 2.5) for p in out], tuple(int(v * 0.55) for v in dial_rgb))
    geom.fill(arr, out, hs.color)
    return HandScene(name, deg, length, c, (float(cen[0]), float(cen[1])), (float(tip[0]), float(tip[1])),
                     [[tuple(q) for q in p.tolist()] for p in out], hs.color)


def draw_hands(arr: np.ndarray, face: FaceSpec, lay: dial.Layout, t: ClockTime,
               caps: list[list[tuple[float, float]]]) -> list[HandScene]:
    ang = hand_angles(t)
    c, r = lay.center, lay.radius * geom.inner(face.shape) * (0.95 if face.ticks != "none" else 1.0)
    shadow = luminance(face.dial) > 0.3
    scenes = [_draw_hand(arr, lay, "hour", face.hour, c, r, ang["hour"], face.dial, shadow),
              _draw_hand(arr, lay, "minute", face.minute, c, r, ang["minute"], face.dial, shadow)]
    if face.second is not None and not face.second_subdial:
        scenes.append(_draw_hand(arr, lay, "second", face.second, c, r, ang["second"], face.dial, shadow))
    cap = geom.apply_h(lay.h, geom.circle(c, max(MIN_SHAFT, face.hour.width * r * 0.6), 24))
    geom.fill(arr, [cap], face.cap_color)
    caps.append([tuple(q) for q in cap.tolist()])
    if face.second is not None and face.second_subdial and lay.subsec:
        sx, sy, sr = lay.subsec
        sub = HandSpec("baton", face.second.color, 0.85, max(MIN_SHAFT, face.second.width * r) / sr, 0.15)
        scenes.append(_draw_hand(arr, lay, "second", sub, (sx, sy), sr, ang["second"], face.dial, False))
        cap = geom.apply_h(lay.h, geom.circle((sx, sy), MIN_SHAFT * 1.2, 16))
        geom.fill(arr, [cap], face.second.color)
        caps.append([tuple(q) for q in cap.tolist()])
    return scenes


def blit_text(arr: np.ndarray, text: str, box: tuple[float, float, float, float], color: tuple[int, int, int],
              font_name: str, h: np.ndarray) -> None:
    """Draw ``text`` centred in a dial-space box, warped into the image by ``h``."""
    Canvas(arr, h, identity=bool(np.array_equal(h, _EYE))).text_in_box(text, box, color, font_name)


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


def seven_segment(arr: np.ndarray, text: str, box: tuple[float, float, float, float], color: tuple[int, int, int],
                  h: np.ndarray) -> None:
    """``text`` of digits, spaces, '-' and ':' as 7-segment glyphs filling a dial-space box."""
    x0, y0, x1, y1 = box
    n_dig, n_col = sum(ch != ":" for ch in text), text.count(":")
    unit = (x1 - x0) / (n_dig * 1.35 + n_col * 0.5 + 0.4)
    dh = min((y1 - y0) * 0.72, unit * 2.0)
    y = (y0 + y1) / 2 - dh / 2
    x, polys = x0 + unit * 0.35, []
    for ch in text:
        if ch == ":":
            for fy in (0.3, 0.7):
                polys.append(geom.circle((x + unit * 0.2, y + dh * fy), max(1.2, unit * 0.1), 8))
            x += unit * 0.5
            continue
        polys += _segment_polys(ch, x, y, unit, dh)
        x += unit * 1.35
    Canvas(arr, h, identity=False).fill(polys, color, disjoint=True)


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
    cen = geom.apply_h(lay.h, np.array([lay.center]))[0]
    scene = Scene(face.family, (arr.shape[1], arr.shape[0]), (float(cen[0]), float(cen[1])), lay.radius,
                  lay.h.tolist(), shows_time=shown)
    ink = dial.window_colors(face)[1]
    if "date" in lay.boxes:
        blit_text(arr, str(t.day), lay.boxes["date"], ink if face.digital is None else face.digital.ink, "DejaVuSans-Bold.ttf", lay.h)
    if "day" in lay.boxes:
        blit_text(arr, WEEKDAYS[t.weekday], lay.boxes["day"], ink, "DejaVuSans-Bold.ttf", lay.h)
    if face.digital is not None:
        text, ampm = digital_string(face, t, shown)
        scene.digital_text, scene.ampm_text = text, ampm
        box = lay.boxes["digital"]
        if face.digital.kind == "7seg":
            seven_segment(arr, text, box, face.digital.ink, lay.h)
        else:
            blit_text(arr, text.strip(), box, face.digital.ink, face.digital.font, lay.h)
        if ampm:
            x0, y0, x1, y1 = box
            blit_text(arr, ampm, (x0, y0 - (y1 - y0) * 0.4, x0 + (x1 - x0) * 0.3, y0), face.digital.ink, "DejaVuSans-Bold.ttf", lay.h)
        return arr, scene
    if shown and "ampm" in lay.boxes:
        scene.ampm_text = "AM" if t.hour < 12 else "PM"
        blit_text(arr, scene.ampm_text, lay.boxes["ampm"], ink, "DejaVuSans-Bold.ttf", lay.h)
    if shown and face.hybrid_digital:
        scene.digital_text = f"{t.hour:02d}:{t.minute:02d}"
        blit_text(arr, scene.digital_text, lay.boxes["digital"], (120, 240, 255), "DejaVuSansMono-Bold.ttf", lay.h)
    if shown and hands:
        scene.hands = draw_hands(arr, face, lay, t, scene.caps)
    return arr, scene


def build_layer(face: FaceSpec, size: int, rng: np.random.Generator, warp: bool = True) -> tuple[np.ndarray, dial.Layout]:
    """The static layer of a face, drawn straight into image pixels through its homography."""
    c = (face.center[0] * size, face.center[1] * size)
    r = face.radius * size
    h = geom.warp_matrix(rng, size, face.warp) if warp else np.eye(3)
    cv = Canvas(dial.background(face, size, rng), h)
    dial.strap_and_case(cv, face, c, r)
    texts: list[dial.Text] = []
    rd = dial.bezel(cv, texts, face, c, r)
    lay = dial.Layout(size, c, rd, h)
    dial.dial_fill(cv, face, c, rd, rng)
    if face.digital is None:
        dial.ticks(cv, face, c, rd)
        dial.numerals(texts, face, c, rd, rng)
        dial.subdials(cv, face, lay, rng)
    dial.windows(cv, face, lay)
    if face.digital is not None and face.digital.ghost and face.digital.kind == "7seg":
        ghost = tuple(int(0.82 * p + 0.18 * k) for p, k in zip(face.digital.panel, face.digital.ink, strict=True))
        pattern = "88:88" + (":88" if face.digital.seconds else "")
        seven_segment(cv.arr, pattern, lay.boxes["digital"], ghost, h)
    dial.brand(texts, face, lay)
    dial.draw_texts(cv, texts)
    arr = dial.lighting(cv.arr, face.lighting, rng)
    if face.glare:
        dial.glare(arr, lay, rng)
    return arr, lay
