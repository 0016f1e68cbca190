"""Watch-face specifications: named face families, each a set of constraints on a random face.

A face is everything that does not change with the time: shape, case, bezel, dial colour and
texture, indices, numerals, hand shapes, sub-dials, windows, brand text, lighting. A family fixes
some of these choices (a diver always has a 60-minute bezel and lume hands, a railway clock always
has a minute track) and the rest are drawn from the global pools, so two faces of one family
still differ in colours, fonts, proportions and details.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generators.clocks import body as bodies
from generators.clocks.body import METALS, STRAPS, candidates, luminance

RGB = tuple[int, int, int]

LIGHT_DIALS: list[RGB] = [(250, 250, 246), (240, 234, 214), (214, 216, 220), (236, 220, 180),
                          (246, 240, 230), (200, 214, 226), (250, 214, 196), (222, 232, 214)]
DARK_DIALS: list[RGB] = [(16, 16, 20), (22, 34, 70), (18, 60, 42), (28, 70, 130), (88, 20, 30),
                         (60, 62, 68), (20, 90, 100), (40, 30, 24), (70, 30, 90)]
DARK_INKS: list[RGB] = [(10, 10, 12), (20, 30, 90), (40, 40, 46), (110, 70, 20), (30, 60, 150)]
LIGHT_INKS: list[RGB] = [(245, 245, 245), (214, 214, 220), (230, 200, 120), (200, 250, 210), (250, 180, 80)]
ACCENTS: list[RGB] = [(220, 30, 30), (250, 120, 0), (240, 210, 0), (120, 220, 40), (0, 150, 240),
                      (230, 40, 160), (0, 200, 190)]
FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
         "DejaVuSansMono.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif-Italic.ttf", "STIXGeneral.ttf",
         "STIXGeneralBol.ttf", "cmr10.ttf", "cmss10.ttf", "cmb10.ttf"]
SYLLABLES = ["ar", "ve", "no", "lu", "tra", "mon", "ka", "zen", "ori", "sol", "bel", "vik", "ta",
             "rio", "quo", "len", "dor", "max", "ne", "pha", "cor", "sa", "il", "um"]
TAGLINES = ["AUTOMATIC", "QUARTZ", "CHRONOMETER", "WATER RESIST", "100M", "200M", "SUBMARINE",
            "OFFICIAL", "SPORT", "MARINE", "25 JEWELS", "TITANIUM", "SOLAR", "GMT", "SMART"]

SHAPES = ("round", "square", "rounded", "octagon", "hexagon", "cushion", "oval")
TEXTURES = ("flat", "sunburst", "gradient", "grain", "guilloche", "sector", "two-tone", "stripes")
TICKS = ("none", "12", "60", "railway", "dots", "batons", "double", "minute-dots")
NUMERALS = ("none", "arabic", "roman", "quarters-arabic", "quarters-roman", "military", "even-arabic",
            "cardinal")
HANDS = ("baton", "sword", "leaf", "dauphine", "arrow", "pencil", "lollipop", "syringe", "plongeur",
         "skeleton-tip")
BEZELS = ("none", "plain", "diver", "tachy", "numbers", "knurled", "hours")
BACKGROUNDS = ("plain", "gradient", "noise", "stripes", "checker", "photo", "wood")


@dataclass
class HandSpec:
    style: str
    color: RGB
    length: float  # fraction of the dial radius
    width: float  # fraction of the dial radius
    tail: float = 0.12


@dataclass
class DigitalSpec:
    kind: str  # "7seg" or "font"
    ink: RGB
    panel: RGB
    h24: bool
    seconds: bool
    ghost: bool
    font: str
    date: bool


@dataclass
class FaceSpec:
    family: str
    name: str
    face_id: str
    shape: str
    radius: float  # fraction of the canvas
    center: tuple[float, float]  # fraction of the canvas
    background: str
    bg_colors: tuple[RGB, RGB]
    case: str
    case_color: RGB
    strap_color: RGB
    bezel: str
    bezel_color: RGB
    bezel_ink: RGB
    dial: RGB
    texture: str
    ticks: str
    ink: RGB
    numerals: str
    font: str
    radial_numerals: bool
    hour: HandSpec
    minute: HandSpec
    second: HandSpec | None
    second_subdial: bool
    cap_color: RGB
    subdials: int
    date_window: str  # "none", "3", "6", "day-date"
    ampm_window: bool
    brand: str
    tagline: str
    lighting: float
    glare: bool
    warp: float
    digital: DigitalSpec | None = None
    hybrid_digital: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    body: int = 0  # index into body.LIBRARY: strap, case, size, position and perspective come from it


# Each family fixes a few choices; any key not given is drawn at random from the pools above.
FAMILIES: dict[str, dict[str, Any]] = {
    "classic-arabic": dict(shape="round", numerals="arabic", ticks="60", case="watch", hands=("leaf", "sword")),
    "classic-roman": dict(shape="round", numerals="roman", ticks="railway", case="watch", hands=("dauphine", "leaf")),
    "railway": dict(shape="round", numerals="arabic", ticks="railway", hands=("baton", "pencil"), texture="flat"),
    "minimal-ticks": dict(numerals="none", ticks="12", hands=("baton", "pencil"), bezel="none"),
    "minimal-bare": dict(numerals="none", ticks="none", hands=("baton", "sword"), bezel="none", seconds=False),
    "dot-index": dict(numerals="none", ticks="dots", hands=("sword", "leaf")),
    "diver": dict(shape="round", bezel="diver", ticks="batons", numerals="none", hands=("plongeur", "sword"),
                  dark=True, seconds=True),
    "pilot": dict(shape="round", numerals="arabic", ticks="60", hands=("sword", "arrow"), dark=True, bezel="none"),
    "chronograph": dict(shape="round", subdials=3, bezel="tachy", numerals="none", ticks="batons", seconds=True),
    "small-seconds": dict(shape="round", second_subdial=True, numerals="arabic", ticks="60", seconds=True),
    "square-dial": dict(shape="square", case="watch", numerals="arabic"),
    "rounded-square": dict(shape="rounded", case="smart", ticks="12"),
    "octagon-sport": dict(shape="octagon", bezel="plain", ticks="batons", numerals="none", texture="guilloche"),
    "hexagon": dict(shape="hexagon", numerals="quarters-arabic", ticks="12"),
    "cushion": dict(shape="cushion", numerals="quarters-roman", ticks="60"),
    "oval-dress": dict(shape="oval", numerals="roman", ticks="none", hands=("leaf", "dauphine"), seconds=False),
    "smart-dark": dict(shape="round", case="smart", dark=True, numerals="even-arabic", hands=("baton", "syringe")),
    "smart-rect": dict(shape="rounded", case="smart", dark=True, numerals="cardinal", ticks="12"),
    "sunburst": dict(texture="sunburst", numerals="none", ticks="batons", hands=("dauphine", "sword")),
    "gradient": dict(texture="gradient", numerals="arabic"),
    "sector": dict(texture="sector", numerals="even-arabic", ticks="60"),
    "two-tone": dict(texture="two-tone", numerals="quarters-arabic", ticks="12"),
    "guilloche": dict(texture="guilloche", numerals="roman", hands=("leaf", "lollipop")),
    "military-24": dict(numerals="military", ticks="60", hands=("arrow", "sword"), dark=True),
    "field": dict(numerals="arabic", ticks="minute-dots", hands=("pencil", "baton"), strap_kind="nato"),
    "art-deco": dict(numerals="cardinal", ticks="double", texture="stripes", shape="rounded"),
    "kids": dict(numerals="arabic", ticks="12", colorful=True, hands=("arrow", "lollipop"), bezel="hours"),
    "fitness-hybrid": dict(case="smart", hybrid_digital=True, numerals="none", ticks="60", dark=True),
    "pocket": dict(shape="round", case="pocket", numerals="roman", ticks="railway", hands=("lollipop", "leaf")),
    "wall": dict(shape="round", case="wall", numerals="arabic", ticks="60", bezel="none"),
    "station": dict(shape="round", case="wall", numerals="none", ticks="batons", hands=("baton", "baton"),
                    station=True, seconds=True),
    "alarm": dict(shape="round", case="alarm", numerals="arabic", ticks="12", hands=("syringe", "arrow")),
    "numbers-bezel": dict(bezel="numbers", numerals="none", ticks="60", hands=("sword", "skeleton-tip")),
    "knurled-tool": dict(bezel="knurled", numerals="quarters-arabic", ticks="batons", dark=True),
    "digital-lcd": dict(digital="7seg", shape="rounded", case="watch"),
    "digital-led": dict(digital="7seg", shape="rounded", case="smart", dark=True, led=True),
    "digital-smart": dict(digital="font", shape="round", case="smart", dark=True),
    "digital-square": dict(digital="font", shape="rounded", case="smart"),
}
FAMILY_NAMES = tuple(FAMILIES)


class Draws:
    """Uniform numbers from a numpy generator, drawn in blocks: a face takes some 70 small random
    choices, and one numpy call each costs more than everything else the face's spec does."""

    def __init__(self, rng: np.random.Generator, block: int = 128):
        self.rng, self.block = rng, block
        self._buf: list[float] = []

    def random(self) -> float:
        if not self._buf:
            self._buf = self.rng.random(self.block).tolist()[::-1]
        return self._buf.pop()

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.random()

    def integers(self, lo: int, hi: int | None = None, size: int | None = None) -> Any:
        """An int in [lo, hi) ([0, lo) without hi); a list of ``size`` of them if given."""
        lo, hi = (0, lo) if hi is None else (lo, hi)
        if size is not None:
            return [lo + int(self.random() * (hi - lo)) for _ in range(size)]
        return lo + int(self.random() * (hi - lo))


def _pick(rng: Draws, seq: Any) -> Any:
    return seq[int(rng.integers(len(seq)))]


def contrasts(a: RGB, b: RGB, min_lum: float = 0.35) -> bool:
    return abs(luminance(a) - luminance(b)) >= min_lum


def _ink_for(rng: Draws, dial: RGB, pool: list[RGB] | None = None) -> RGB:
    options = [c for c in (pool or DARK_INKS + LIGHT_INKS + ACCENTS) if contrasts(c, dial)]
    return _pick(rng, options or [(0, 0, 0) if luminance(dial) > 0.5 else (255, 255, 255)])


def _jitter(rng: Draws, c: RGB, amount: int = 12) -> RGB:
    d = rng.integers(-amount, amount + 1, 3)
    return tuple(min(255, max(0, int(v + e))) for v, e in zip(c, d, strict=True))  # type: ignore[return-value]


def brand_name(rng: Draws) -> str:
    return "".join(_pick(rng, SYLLABLES) for _ in range(int(rng.integers(2, 4)))).upper()


def face_id(rng: Draws) -> str:
    chars = string.ascii_letters + string.digits
    return "".join(chars[int(i)] for i in rng.integers(0, len(chars), 10))


def _hands(rng: Draws, fam: dict[str, Any], ink: RGB, dial: RGB) -> tuple[HandSpec, HandSpec]:
    styles = fam.get("hands") or (_pick(rng, HANDS), _pick(rng, HANDS))
    hour_color = ink
    if fam.get("colorful") or rng.random() < 0.15:
        hour_color = _ink_for(rng, dial, ACCENTS + LIGHT_INKS + DARK_INKS)
    minute_color = hour_color if rng.random() < 0.8 else _ink_for(rng, dial)
    hl, ml = rng.uniform(0.48, 0.6), rng.uniform(0.76, 0.9)
    hw = rng.uniform(0.055, 0.09)
    hour = HandSpec(styles[0], hour_color, hl, hw, rng.uniform(0.0, 0.15))
    minute = HandSpec(styles[1], minute_color, ml, hw * rng.uniform(0.6, 0.85), rng.uniform(0.0, 0.15))
    return hour, minute


def _second(rng: Draws, fam: dict[str, Any], dial: RGB, ink: RGB) -> HandSpec | None:
    show = fam.get("seconds", rng.random() < 0.6)
    if not show:
        return None
    color = _ink_for(rng, dial, ACCENTS) if rng.random() < 0.75 else ink
    style = "lollipop" if fam.get("station") or rng.random() < 0.25 else "baton"
    return HandSpec(style, color, rng.uniform(0.86, 0.95), rng.uniform(0.018, 0.03), rng.uniform(0.12, 0.25))


def _digital(rng: Draws, fam: dict[str, Any], dark: bool) -> DigitalSpec | None:
    kind = fam.get("digital")
    if kind is None:
        return None
    if fam.get("led"):
        panel, ink = (8, 8, 10), _pick(rng, [(255, 40, 30), (60, 255, 90), (80, 180, 255), (255, 170, 40)])
    elif kind == "7seg":
        panel = _pick(rng, [(168, 180, 150), (190, 196, 170), (150, 170, 160), (200, 200, 190)])
        ink = (20, 24, 20)
    else:
        panel = _pick(rng, DARK_DIALS if dark else LIGHT_DIALS)
        ink = _ink_for(rng, panel, LIGHT_INKS + ACCENTS if dark else DARK_INKS + ACCENTS)
    return DigitalSpec(kind, ink, panel, bool(rng.random() < 0.35), bool(rng.random() < 0.5),
                       bool(kind == "7seg" and rng.random() < 0.7), _pick(rng, FONTS), bool(rng.random() < 0.5))


def sample_face(rng: Draws | np.random.Generator, family: str | None = None) -> FaceSpec:
    """A random face of ``family`` (a random family if None)."""
    rng = rng if isinstance(rng, Draws) else Draws(rng)
    family = family or _pick(rng, FAMILY_NAMES)
    fam = FAMILIES[family]
    dark = fam.get("dark", rng.random() < 0.4)
    dial = _jitter(rng, _pick(rng, DARK_DIALS if dark else LIGHT_DIALS))
    ink = _ink_for(rng, dial, LIGHT_INKS if dark else DARK_INKS)
    hour, minute = _hands(rng, fam, ink, dial)
    body = bodies.body(_pick(rng, candidates(fam.get("shape"), fam.get("case"), fam.get("strap_kind") == "nato")))
    digital = _digital(rng, fam, dark)
    sub_seconds = bool(fam.get("second_subdial", False))
    brand = brand_name(rng)
    return FaceSpec(
        family=family,
        name=f"{brand.lower()}{family.replace('-', '')}",
        face_id=face_id(rng),
        shape=body.shape,
        radius=body.radius,
        center=body.center,
        background=_pick(rng, BACKGROUNDS),
        bg_colors=(_jitter(rng, _pick(rng, LIGHT_DIALS + DARK_DIALS), 30), _jitter(rng, _pick(rng, STRAPS), 30)),
        case=body.case,
        case_color=body.case_color,
        strap_color=body.strap_color,
        bezel=fam.get("bezel") or _pick(rng, BEZELS),
        bezel_color=_pick(rng, METALS + [(20, 20, 24), (20, 40, 110), (120, 20, 20)]),
        bezel_ink=(250, 250, 250),
        dial=dial,
        texture=fam.get("texture") or _pick(rng, TEXTURES[:5]),
        ticks=fam.get("ticks") or _pick(rng, TICKS),
        ink=ink,
        numerals=fam.get("numerals") or _pick(rng, NUMERALS),
        font=_pick(rng, FONTS),
        radial_numerals=bool(rng.random() < 0.2),
        hour=hour,
        minute=minute,
        second=HandSpec("baton", _ink_for(rng, dial, ACCENTS), 0.85, 0.03, 0.15) if sub_seconds
        else _second(rng, fam, dial, ink),
        second_subdial=sub_seconds,
        cap_color=hour.color,
        subdials=int(fam.get("subdials", 0)),
        date_window=_pick(rng, ("none", "none", "3", "6", "day-date")) if not fam.get("subdials") else "none",
        ampm_window=bool(rng.random() < 0.3),
        brand=brand,
        tagline=_pick(rng, TAGLINES),
        lighting=body.lighting,
        glare=bool(rng.random() < 0.4),
        warp=body.warp,
        digital=digital,
        hybrid_digital=bool(fam.get("hybrid_digital", False)),
        extras={"colorful": bool(fam.get("colorful")), "station": bool(fam.get("station")),
                "strap_kind": body.strap_kind},
        body=body.index,
    )
