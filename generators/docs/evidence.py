"""Check QA answers against what the image shows: the text each renderer reports it drew.

Every renderer reports the strings it drew with their height in pixels of the rendered image
(``Drawn``): SVG/DOM text for Plotly, Vega-Lite, Mermaid, HTML and Graphviz, Matplotlib's text
artists, ``pdftotext -bbox-layout`` lines for LaTeX. A QA pair carries its evidence (the labels and
values someone must read to answer it); a pair is kept only when every piece of evidence is drawn at
a legible size in the stored image (after the image checks' downscale). The rest are dropped, and
the count goes into the shard stats.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence

MIN_TEXT_PX = 8.0  # smallest legible text height (font size in pixels) in the stored image

Drawn = list[tuple[str, float]]  # (text, font size in pixels of the rendered image)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", html.unescape(text)).replace("\u2212", "-").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip().casefold()


def legible_text(drawn: Drawn, scale: float = 1.0, min_px: float = MIN_TEXT_PX) -> list[str]:
    """The normalized strings drawn at ``min_px`` or more once the image is scaled by ``scale``."""
    return [normalize(t) for t, px in drawn if px * scale >= min_px and t.strip()]


def _pattern(piece: str) -> re.Pattern[str]:
    # a whole token: "5.7" is not evidence in "15.7" or "5.70"
    return re.compile(rf"(?<![0-9a-z.]){re.escape(normalize(piece))}(?![0-9a-z])")


def is_drawn(piece: str, texts: Sequence[str]) -> bool:
    """``piece`` appears in one drawn string, or across consecutive ones (a label wrapped in two)."""
    pat = _pattern(piece)
    if any(pat.search(t) for t in texts):
        return True
    return any(pat.search(f"{texts[i]} {texts[i + 1]}") for i in range(len(texts) - 1))


def missing(evidence: Iterable[str], texts: Sequence[str]) -> list[str]:
    return [e for e in evidence if e and not is_drawn(e, texts)]


def filter_qa(qa: list[tuple[str, str, tuple[str, ...]]], drawn: Drawn,
              scale: float = 1.0) -> tuple[list[tuple[str, str, tuple[str, ...]]], list[str]]:
    """(the pairs whose evidence is all legible, one line per dropped pair saying what is missing)."""
    texts = legible_text(drawn, scale)
    kept, dropped = [], []
    for q, a, ev in qa:
        gone = missing(ev, texts)
        if gone:
            dropped.append(f"{q.splitlines()[0][:80]!r}: not drawn legibly: {', '.join(gone)[:120]}")
        else:
            kept.append((q, a, ev))
    return kept, dropped


def llm_evidence(answer: str, data: str) -> tuple[str, ...]:
    """An LLM answer's evidence: the answer itself when it is a short value or label of the data
    (so the image must show it), else nothing (computed answers, yes/no, "Cannot be determined")."""
    a = answer.strip()
    if not a or len(a) > 60 or normalize(a) in ("yes", "no", "cannot be determined") or len(a) == 1 and a.isalpha():
        return ()
    return (a,) if _pattern(a).search(normalize(data)) else ()


# -- parsers for what renderers write --------------------------------------------------------------
_SVG_TEXT = re.compile(r"<text\b([^>]*)>(.*?)</text>", re.S)
_FONT_SIZE = re.compile(r"font-size[=:]\s*\"?([\d.]+)(px|pt)?")
_TAG = re.compile(r"<[^>]+>")


def svg_text(svg: str, px_per_unit: float = 1.0) -> Drawn:
    """Text elements of an SVG (Graphviz: units are points; pass dpi/72) with their font size."""
    out: Drawn = []
    for attrs, body in _SVG_TEXT.findall(svg):
        m = _FONT_SIZE.search(attrs)
        size = float(m.group(1)) if m else 14.0
        text = html.unescape(_TAG.sub(" ", body))
        if text.strip() and 'opacity="0"' not in attrs and 'fill-opacity="0"' not in attrs:
            out.append((re.sub(r"\s+", " ", text).strip(), size * px_per_unit))
    return out


_LINE = re.compile(r"<line\b[^>]*>(.*?)</line>", re.S)
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', re.S)


def pdftotext_lines(bbox_html: str, dpi: float) -> Drawn:
    """Lines of ``pdftotext -bbox-layout`` output with their height (points -> pixels at ``dpi``).
    A word box is about 1.2 font sizes tall (ascender to descender)."""
    out: Drawn = []
    for body in _LINE.findall(bbox_html):
        words = _WORD.findall(body)
        if words:
            height = max(float(w[3]) - float(w[1]) for w in words) / 1.2
            out.append((" ".join(html.unescape(w[4]) for w in words), height * dpi / 72))
    return out


def parse_drawn(raw: object) -> Drawn:
    """Drawn text from untrusted JSON (a renderer's report): a list of [text, size] pairs."""
    out: Drawn = []
    if isinstance(raw, list):
        for item in raw[:20000]:
            if (isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str)
                    and isinstance(item[1], int | float)):
                out.append((item[0][:500], float(item[1])))
    return out
