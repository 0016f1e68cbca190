"""Molmo's pointing and counting text: formatting and parsing (docs/spec/molmo.md 6.4 and 8.1-8.2).

Two point formats, chosen per model family with ``fmt``: ``"molmo"`` (v1, ``<point x=".." y="..">`` on
0-100) and ``"molmo2"`` (``<points coords="IMAGE ID X Y ID X Y ...">label</points>``, integers on 0-1000,
image index first, ``;`` between images; docs/spec/molmo2.md "Point format"). ``parse_points`` reads both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

POINT_FORMATS = ("molmo", "molmo2")
NONE_ANSWER = "There are none."
NOT_IN_IMAGE = "This isn't in the image."

PointSeq = Sequence[tuple[float, float]] | Sequence[Sequence[float]]


def _normalise(points: PointSeq, image_size: tuple[int, int] | None) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if image_size is not None:
        w, h = image_size
        if w <= 0 or h <= 0:
            raise ValueError(f"image_size must be positive, got {image_size!r}")
        arr = arr / np.array([w / 100.0, h / 100.0])
    return arr


def round_points(points: PointSeq, *, image_size: tuple[int, int] | None = None) -> list[tuple[float, float]]:
    """0-100 points rounded as the reference does (numpy round-half-even) and sorted by x*10000+y."""
    arr = np.round(_normalise(points, image_size), 1)
    order = sorted(range(len(arr)), key=lambda i: arr[i, 0] * 10000 + arr[i, 1])
    return [(float(arr[i, 0]), float(arr[i, 1])) for i in order]


def points_to_text(
    points: PointSeq,
    label: str,
    *,
    image_size: tuple[int, int] | None = None,
    alt: str | None = None,
    lower: bool = True,
    fmt: str = "molmo",
) -> str:
    """``<point x=".." y=".." alt="..">label</point>`` or the numbered ``<points ...>`` form.

    ``points`` are pixels when ``image_size=(width, height)`` is given, else already 0-100.
    The label (and ``alt``, which defaults to it) is lower-cased as Molmo's Points/Count data is,
    unless ``lower=False`` (point explanations keep their inline text). ``fmt="molmo2"`` writes
    ``<points coords="1 1 X Y 2 X Y">label</points>`` on 0-1000 instead (no ``alt``).
    """
    text = label.lower() if lower else label
    alt_text = text if alt is None else (alt.lower() if lower else alt)
    if fmt not in POINT_FORMATS:
        raise ValueError(f"unknown point format {fmt!r}; choose one of {POINT_FORMATS}")
    if fmt == "molmo2":
        return f'<points coords="{molmo2_coords(points, image_size=image_size)}">{text}</points>'
    pts = round_points(points, image_size=image_size)
    if not pts:
        raise ValueError("points_to_text needs at least one point; use count_answer for zero")
    if len(pts) == 1:
        x, y = pts[0]
        return f'<point x="{x:0.1f}" y="{y:0.1f}" alt="{alt_text}">{text}</point>'
    attrs = " ".join(f'x{i}="{x:0.1f}" y{i}="{y:0.1f}"' for i, (x, y) in enumerate(pts, start=1))
    return f'<points {attrs} alt="{alt_text}">{text}</points>'


def molmo2_coords(points: PointSeq, *, image_size: tuple[int, int] | None = None, image: int = 1) -> str:
    """``IMAGE 1 X Y 2 X Y ...``: points sorted as v1, ids from 1, 0-1000 integers written with 3+ digits."""
    arr = np.clip(np.round(_normalise(points, image_size) * 10), 0, 1000).astype(int)
    if len(arr) == 0:
        raise ValueError("molmo2_coords needs at least one point")
    order = sorted(range(len(arr)), key=lambda i: (arr[i, 0], arr[i, 1]))
    return " ".join([str(image)] + [f"{k} {arr[i, 0]:03d} {arr[i, 1]:03d}" for k, i in enumerate(order, 1)])


def count_answer(points: PointSeq, label: str, *, image_size: tuple[int, int] | None = None,
                 fmt: str = "molmo") -> str:
    """``Counting the <points ...>label</points> shows a total of N.``, or ``There are none.``."""
    n = len(np.asarray(points, dtype=np.float64).reshape(-1, 2))
    if n == 0:
        return NONE_ANSWER
    return f"Counting the {points_to_text(points, label, image_size=image_size, fmt=fmt)} shows a total of {n}."


def pointing_answer(points: PointSeq, label: str, *, image_size: tuple[int, int] | None = None,
                    fmt: str = "molmo") -> str:
    """The answer of the ``pointing`` style: the point markup, or ``There are none.``."""
    if len(np.asarray(points, dtype=np.float64).reshape(-1, 2)) == 0:
        return NONE_ANSWER
    return points_to_text(points, label, image_size=image_size, fmt=fmt)


def fill_point_placeholders(
    parsed_response: str,
    points: Sequence[PointSeq],
    inline_text: Sequence[str],
    alt_text: Sequence[str],
    placeholder: str = "<|POINT|>",
) -> str:
    """Replace each placeholder in order by the point text of a point-explanations record."""
    pieces = parsed_response.split(placeholder)
    if len(pieces) - 1 != len(points):
        raise ValueError(f"{len(pieces) - 1} placeholders but {len(points)} point groups")
    out = [pieces[0]]
    for group, inline, alt, rest in zip(points, inline_text, alt_text, pieces[1:], strict=True):
        out.append(points_to_text(group, inline, alt=alt, lower=False))
        out.append(rest)
    return "".join(out)


# --- parsing -----------------------------------------------------------------------------

_NUM = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_CLICK_RE = re.compile(rf"Click\(\s*{_NUM}\s*,\s*{_NUM}\s*\)")
_PAIR_RE = re.compile(rf"\(\s*{_NUM}\s*,\s*{_NUM}\s*\)")
_XY_RE = re.compile(rf'x\d*\s*=\s*"\s*{_NUM}\s*"\s+y\d*\s*=\s*"\s*{_NUM}\s*"')
_P3_RE = re.compile(r"p\s*=\s*([0-9]{3})\s*,\s*([0-9]{3})")
_COORDS_RE = re.compile(r'<(?:points|tracks)\b[^>]*?\bcoords\s*=\s*"([0-9\t:;,. ]+)"')


def _molmo2_points(text: str) -> list[tuple[float, float]]:
    """Points of every ``coords="IMAGE ID X Y ..."`` attribute (groups split by ``;``), on 0-100."""
    out = []
    for m in _COORDS_RE.finditer(text):
        for group in m.group(1).replace("\t", ";").split(";"):
            nums = group.replace(":", " ").replace(",", " ").split()[1:]  # drop the image index / time
            for k in range(0, len(nums) - 2, 3):
                x, y = float(nums[k + 1]), float(nums[k + 2])
                if x <= 1000 and y <= 1000:
                    out.append((x / 10.0, y / 10.0))
    return out


def parse_points(text: str, *, image_size: tuple[int, int] | None = None) -> list[tuple[float, float]]:
    """Every point in a model answer, in the forms the reference evaluator accepts.

    Accepts ``Click(x, y)``, ``(x, y)``, ``x1="..." y1="..."`` attribute pairs and the 3-digit
    ``p=XXX,YYY`` form (tenths), and Molmo2's ``coords="1 1 X Y ..."`` (0-1000). Coordinates above
    100 (1000 for Molmo2) are dropped. Returned on the 0-100 scale, or in pixels when
    ``image_size=(width, height)`` is given.
    """
    found: list[tuple[float, float]] = _molmo2_points(text)
    for rx, div in ((_CLICK_RE, 1.0), (_XY_RE, 1.0), (_P3_RE, 10.0)):
        for m in rx.finditer(text):
            found.append((float(m.group(1)) / div, float(m.group(2)) / div))
    if not found:  # bare "(x, y)" lines only when no richer form matched (Click(...) also matches it)
        found = [(float(m.group(1)), float(m.group(2))) for m in _PAIR_RE.finditer(text)]
    kept = [(x, y) for x, y in found if x <= 100 and y <= 100]
    if image_size is not None:
        w, h = image_size
        kept = [(x / 100.0 * w, y / 100.0 * h) for x, y in kept]
    return kept


_VALID_FORMAT_RE = re.compile(
    r"^(?:<point\s[^>]*>[^<]*</point>|<points\s[^>]*>[^<]*</points>|<points\s[^>]*/>"
    r"|(?:\(\s*[0-9.]+\s*,\s*[0-9.]+\s*\)\s*)+)$",
    re.S,
)


def is_valid_point_format(text: str) -> bool:
    """Whether a whole answer is one point tag, one points tag, or a list of (x, y) lines."""
    return bool(_VALID_FORMAT_RE.match(text.strip()))


NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_TOTAL_RE = re.compile(r"a total of ([0-9]+)")


def parse_count(text: str, *, none_is_zero: bool = False) -> int | None:
    """The count in an answer: last word as int or number word, else ``a total of N``.

    The reference's "none" rule never fires (its regex is not raw), so ``There are none.``
    parses as invalid (None) by default; ``none_is_zero=True`` gives the intended 0.
    """
    s = text.lower().strip().rstrip(".").strip()
    words = s.split()
    if words:
        last = words[-1]
        if last.isdecimal():  # not isdigit: "²" is a digit that int() refuses
            return int(last)
        if last in NUMBER_WORDS:
            return NUMBER_WORDS[last]
    m = _TOTAL_RE.search(s)
    if m:
        return int(m.group(1))
    if none_is_zero and re.search(r"\bnone\b", s):
        return 0
    return None
