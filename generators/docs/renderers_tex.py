"""TeX-family and music renderers: TikZ/pgfplots (pdflatex), Asymptote and LilyPond.

Each one is a single sandbox job (``sandbox.py``: the bubblewrap jail, time and memory limits): the
tool writes a PDF, ``pdftoppm`` rasterises its first page and ``pdftotext -bbox-layout`` recovers the
text drawn on it, so QA answers are checked against the image (``evidence.py``). LilyPond draws
time signatures as glyphs of its music font; pdftotext reads them as two digits stacked on the
staff, which :func:`time_signatures` turns back into "3/4" (drawn evidence, not the source's claim).
The tools find their data (TeX trees, fonts, LilyPond's Scheme and fonts, Ghostscript) under
``/usr`` and the few ``/etc``/``/var`` entries the jail binds read-only (``jail.SYSTEM``).

Registered into :data:`generators.docs.renderers.RENDERERS` when that module loads.
"""

from __future__ import annotations

import re

from generators.docs.evidence import Drawn, pdftotext_lines
from generators.docs.renderers import RenderContext, Renderer, RenderError, crop_margins, register

TIKZ_DPI = 150
ASY_DPI = 150
LILYPOND_DPI = 130
PDFLATEX = "pdflatex -interaction=nonstopmode -halt-on-error -no-shell-escape"


LILYPOND_TIME_SCALE = 3.0  # LilyPond gets 3x the per-render --timeout (see render_lilypond)


def pdf_job(ctx: RenderContext, files: dict[str, str], build: str, pdf: str, dpi: int,
            time_scale: float = 1.0) -> tuple[bytes, str]:
    """Run ``build`` (a shell command line of fixed words: it must write ``pdf``), then rasterise and
    read back the first page, all in one sandbox job, within ``time_scale`` times the per-render
    time limit. Returns (PNG, pdftotext's bbox HTML)."""
    script = (f"{build} && pdftoppm -png -r {dpi} -f 1 -l 1 -singlefile {pdf} page && "
              f"pdftotext -f 1 -l 1 -bbox-layout {pdf} words.html")
    out = ctx.sandbox.run("exec", files, ("page.png", "words.html"), argv=["sh", "-c", script],
                          timeout=ctx.sandbox.limits.timeout * time_scale)
    if "page.png" not in out:
        raise RenderError(f"the renderer wrote no {pdf}")
    return out["page.png"], out.get("words.html", b"").decode(errors="replace")


def render_tikz(code: str, data: str, ctx: RenderContext) -> bytes:
    png, words = pdf_job(ctx, {"doc.tex": code}, f"{PDFLATEX} doc.tex", "doc.pdf", TIKZ_DPI)
    ctx.drawn.extend(pdftotext_lines(words, TIKZ_DPI))
    return crop_margins(png, int(ctx.rng.integers(20, 50)))


def render_asymptote(code: str, data: str, ctx: RenderContext) -> bytes:
    # -safe: no system() calls; without -globalwrite it writes only to its own directory
    build = "asy -safe -noV -offscreen -f pdf -o fig doc.asy"
    png, words = pdf_job(ctx, {"doc.asy": code}, build, "fig.pdf", ASY_DPI)
    ctx.drawn.extend(pdftotext_lines(words, ASY_DPI))
    return crop_margins(png, int(ctx.rng.integers(25, 55)))


def render_lilypond(code: str, data: str, ctx: RenderContext) -> bytes:
    # LilyPond removed its -dsafe mode (its docs point to a jail): the bubblewrap jail is the boundary.
    # One score takes 3-8 s of CPU (Guile start-up, font loading, engraving), so with 6 documents in
    # flight on 2 cores the default 20 s limit rejected good scores; it gets LILYPOND_TIME_SCALE times it.
    build = "lilypond -dno-point-and-click --pdf -o score doc.ly"
    png, words = pdf_job(ctx, {"doc.ly": code}, build, "score.pdf", LILYPOND_DPI, LILYPOND_TIME_SCALE)
    lines = pdftotext_lines(words, LILYPOND_DPI)
    ctx.drawn.extend((t, px) for t, px in lines if _readable(t))
    ctx.drawn.extend(time_signatures(words, LILYPOND_DPI))
    return crop_margins(png, int(ctx.rng.integers(25, 55)))


def _readable(text: str) -> bool:
    """Drop what pdftotext makes of music glyphs (private-use code points)."""
    return any(ch.isalnum() and not 0xE000 <= ord(ch) <= 0xF8FF for ch in text)


_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(\d+)</word>')


def time_signatures(bbox_html: str, dpi: float) -> Drawn:
    """Time signatures as LilyPond engraves them: a numerator glyph stacked right above a denominator
    glyph (same column, same glyph box, shifted by about two staff spaces). Returns [("3/4", px)],
    px being the shift (the digits' drawn height) in pixels at ``dpi``."""
    digits = [(float(a), float(b), float(c), float(d), t) for a, b, c, d, t in _WORD.findall(bbox_html)]
    out: Drawn = []
    used: set[int] = set()
    for i, top in enumerate(digits):
        for j, bottom in enumerate(digits):
            if i == j or i in used or j in used:
                continue
            height = top[3] - top[1]
            shift = bottom[1] - top[1]
            same_column = abs((top[0] + top[2]) - (bottom[0] + bottom[2])) / 2 < 0.6 * (top[2] - top[0]) + 1
            if (height > 0 and same_column and abs((bottom[3] - bottom[1]) - height) < 0.1 * height
                    and 0.15 * height < shift < 0.45 * height):
                out.append((f"{top[4]}/{bottom[4]}", shift * dpi / 72))
                used |= {i, j}
    return out


TEX_RENDERERS = (
    Renderer("tikz", ("charts", "diagrams"), "json", "latex",
             "A complete LaTeX document, \\documentclass[border=12pt]{standalone} with TikZ or pgfplots "
             "(\\pgfplotsset{compat=1.18}); the data hard-coded; print every value label explicitly (no "
             "external files, no \\input, no shell escape).",
             render_tikz),
    Renderer("asymptote", ("charts", "other"), "json", "asy",
             "A complete Asymptote (2.85) program: size(...); draw/fill/label calls with LaTeX labels; the "
             "data hard-coded; no input(), import of files, or settings.outformat changes.",
             render_asymptote),
    Renderer("lilypond", ("other",), "json", "lilypond",
             "A complete LilyPond 2.24 score: \\version \"2.24.0\", a \\header with title and composer, "
             "one \\score with \\layout {}; \\numericTimeSignature; no Scheme file access, no \\include.",
             render_lilypond),
)
register(*TEX_RENDERERS)
