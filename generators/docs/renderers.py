"""The renderers behind one interface: ``Renderer.render(code, data, ctx) -> PNG bytes`` (seven here;
TikZ, Asymptote and LilyPond in ``renderers_tex.py``).

Everything a renderer runs that came from an LLM or a template runs outside this process: Python
code, vl-convert, pdflatex, pdftoppm and dot in the sandbox worker (time limit, memory limit, no
network, temp dir); HTML, Plotly figures and Mermaid in the long-lived Chromium pool (network
aborted, time limit). Image checks follow docs/spec/pixmo_data.md section 4 item 6.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from generators.docs.evidence import parse_drawn, pdftotext_lines, svg_text
from generators.docs.sandbox import Limits, RenderError, Sandbox

MAX_AREA = 2560 * 1440


class ImageRejected(RenderError):
    """The image rendered but fails the checks (blank, too thin, too small)."""


@dataclass
class RenderContext:
    """What renderers share in one process: the sandbox worker and the browser pool (both lazy).

    ``dataclasses.replace(ctx, rng=...)`` gives a per-document view that shares both."""

    limits: Limits = field(default_factory=Limits)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    drawn: list[tuple[str, float]] = field(default_factory=list)  # per document: text drawn, px size
    shared: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def sandbox(self) -> Sandbox:
        with self.lock:
            if "sandbox" not in self.shared:
                self.shared["sandbox"] = Sandbox(self.limits)
            return self.shared["sandbox"]

    @property
    def vega(self) -> Sandbox:
        with self.lock:
            if "vega" not in self.shared:
                self.shared["vega"] = Sandbox(self.limits, inline=True)
            return self.shared["vega"]

    @property
    def browser(self) -> Any:
        with self.lock:
            if "browser" not in self.shared:
                from generators.docs.browser import shared_pool

                pool = shared_pool()
                pool.timeout = self.limits.timeout
                self.shared["browser"] = pool
            return self.shared["browser"]

    def close(self) -> None:
        for name in ("sandbox", "vega"):
            sb = self.shared.pop(name, None)
            if sb is not None:
                sb.close()


RenderFn = Callable[[str, str, RenderContext], bytes]


@dataclass(frozen=True)
class Renderer:
    name: str
    categories: tuple[str, ...]  # the pixmo-docs configs it serves
    data_format: str  # "csv" or "json": what the data stage writes
    lang: str  # the fenced-code language the code stage must use
    contract: str  # what the code must be (told to the LLM)
    fn: RenderFn

    def render(self, code: str, data: str, ctx: RenderContext) -> bytes:
        return self.fn(code, data, ctx)


def _data_file(data: str) -> dict[str, str]:
    return {"data.json": data} if data.lstrip()[:1] in "[{" else {"data.csv": data}


def render_matplotlib(code: str, data: str, ctx: RenderContext) -> bytes:
    files = {"code.py": code, **_data_file(data)}
    out = ctx.sandbox.run("python", files, ("out.png", "drawn.json"), mode="plot")
    ctx.drawn.extend(_drawn_json(out.get("drawn.json", b"")))
    return _need(out, "out.png")


def render_plotly(code: str, data: str, ctx: RenderContext) -> bytes:
    files = {"code.py": code, **_data_file(data)}
    fig = json.loads(_need(ctx.sandbox.run("python", files, ("out.json",), mode="plotly"), "out.json"))
    layout = fig.get("layout") or {}
    width, height = int(layout.get("width") or 900) + 20, int(layout.get("height") or 600) + 20
    return ctx.browser.render("plotly", fig, width=min(width, 2400), height=min(height, 2400), texts=ctx.drawn)


def render_vegalite(code: str, data: str, ctx: RenderContext) -> bytes:
    try:
        json.loads(code)
    except ValueError as exc:
        raise RenderError(f"the Vega-Lite spec is not JSON: {exc}") from exc
    scale = float(ctx.rng.choice([1.5, 2.0]))
    out = ctx.vega.run("vegalite", {"spec.json": code}, ("out.png", "out.svg"), scale=scale)
    ctx.drawn.extend(svg_text(out.get("out.svg", b"").decode(errors="replace"), scale))
    return _need(out, "out.png")


LATEX_DPI = 150
GRAPHVIZ_DPI = 110


def render_latex(code: str, data: str, ctx: RenderContext) -> bytes:
    argv = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"]
    pdf = _need(ctx.sandbox.run("exec", {"doc.tex": code}, ("doc.pdf",), argv=argv), "doc.pdf")
    script = (f"pdftoppm -png -r {LATEX_DPI} -f 1 -l 1 -singlefile doc.pdf page && "
              "pdftotext -f 1 -l 1 -bbox-layout doc.pdf words.html")
    out = ctx.sandbox.run("exec", {"doc.pdf": pdf}, ("page.png", "words.html"), argv=["sh", "-c", script])
    ctx.drawn.extend(pdftotext_lines(out.get("words.html", b"").decode(errors="replace"), LATEX_DPI))
    return crop_margins(_need(out, "page.png"), int(ctx.rng.integers(30, 70)))


def render_graphviz(code: str, data: str, ctx: RenderContext) -> bytes:
    argv = ["dot", f"-Gdpi={GRAPHVIZ_DPI}", "-Tpng", "-o", "out.png", "-Tsvg", "-o", "out.svg", "graph.dot"]
    out = ctx.sandbox.run("exec", {"graph.dot": code}, ("out.png", "out.svg"), argv=argv)
    ctx.drawn.extend(svg_text(out.get("out.svg", b"").decode(errors="replace"), GRAPHVIZ_DPI / 72))
    return _need(out, "out.png")


def render_html(code: str, data: str, ctx: RenderContext) -> bytes:
    return ctx.browser.render("html", code, width=int(ctx.rng.integers(800, 1150)), height=600, texts=ctx.drawn)


def render_mermaid(code: str, data: str, ctx: RenderContext) -> bytes:
    return ctx.browser.render("mermaid", code, width=1400, height=900, texts=ctx.drawn)


def _need(out: dict[str, bytes], name: str) -> bytes:
    if name not in out:
        raise RenderError(f"the renderer wrote no {name}")
    return out[name]


def _drawn_json(raw: bytes) -> list[tuple[str, float]]:
    try:
        return parse_drawn(json.loads(raw)) if raw else []
    except ValueError:
        return []


RENDERERS: dict[str, Renderer] = {r.name: r for r in (
    Renderer("matplotlib", ("charts", "tables"), "csv", "python",
             "Python defining generate_plot(df) -> PIL.Image using matplotlib (save the figure to a BytesIO, "
             "do not close it, return Image.open(buf)); df is a pandas DataFrame of the CSV data.",
             render_matplotlib),
    Renderer("plotly", ("charts", "tables"), "csv", "python",
             "Python defining generate_plot(df) that builds and RETURNS a plotly.graph_objects.Figure "
             "(set layout width and height; do not call write_image or show); df is a pandas DataFrame.",
             render_plotly),
    Renderer("vegalite", ("charts",), "csv", "json",
             "A complete Vega-Lite v5 JSON spec with the data inline under data.values (no URLs).",
             render_vegalite),
    Renderer("latex", ("tables", "other"), "json", "latex",  # "other": documents and math derivations
             "A complete LaTeX document using \\documentclass{article}; packages from base LaTeX plus booktabs, "
             "multirow, amsmath, amssymb, array, xcolor, geometry; \\pagestyle{empty}; the data hard-coded.",
             render_latex),
    Renderer("html", ("tables", "other", "charts"), "json", "html",
             "A single self-contained HTML file with inline CSS, the data hard-coded, no external resources.",
             render_html),
    Renderer("mermaid", ("diagrams", "charts"), "json", "mermaid",
             "Mermaid (v11) diagram source only (flowchart, stateDiagram-v2, sequenceDiagram, classDiagram, "
             "erDiagram, mindmap, gantt, timeline, xychart-beta or pie).",
             render_mermaid),
    Renderer("graphviz", ("diagrams",), "json", "dot",
             "A Graphviz DOT graph (digraph or graph) with styled nodes and edges, rendered with dot.",
             render_graphviz),
)}


def crop_margins(png: bytes, margin: int) -> bytes:
    """Crop white space around the content, keeping ``margin`` pixels (LaTeX pages without standalone)."""
    im = Image.open(io.BytesIO(png)).convert("RGB")
    arr = np.asarray(im)
    ink = np.where((arr < 245).any(axis=2))
    if not len(ink[0]):
        return png
    top, bottom = max(0, ink[0].min() - margin), min(arr.shape[0], ink[0].max() + margin + 1)
    left, right = max(0, ink[1].min() - margin), min(arr.shape[1], ink[1].max() + margin + 1)
    buf = io.BytesIO()
    im.crop((left, top, right, bottom)).save(buf, "PNG", optimize=False)
    return buf.getvalue()


def check_image(png: bytes) -> bytes:
    """docs/spec/pixmo_data.md section 4 item 6: reject near-monochrome (>95% one colour), aspect > 5 or short
    side < 128; flatten alpha onto white; downscale (Lanczos) to at most 2560x1440 pixels in area."""
    try:
        im: Image.Image = Image.open(io.BytesIO(png))
        im.load()
    except Exception as exc:  # noqa: BLE001
        raise ImageRejected(f"not a readable image: {exc}") from exc
    if im.mode in ("RGBA", "LA", "P"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, rgba)
    im = im.convert("RGB")
    w, h = im.size
    if min(w, h) < 128:
        raise ImageRejected(f"short side {min(w, h)} px < 128")
    if max(w, h) / min(w, h) > 5:
        raise ImageRejected(f"aspect ratio {max(w, h) / min(w, h):.1f} > 5")
    small = np.asarray(im.resize((max(1, w // 4), max(1, h // 4)), Image.Resampling.NEAREST)).reshape(-1, 3)
    packed = (small[:, 0].astype(np.int32) << 16) | (small[:, 1].astype(np.int32) << 8) | small[:, 2]
    top = np.bincount(np.unique(packed, return_inverse=True)[1]).max() / len(packed)
    if top > 0.95:
        raise ImageRejected(f"{top:.1%} of the image is one colour (> 95%)")
    if w * h > MAX_AREA:
        s = (MAX_AREA / (w * h)) ** 0.5
        im = im.resize((max(1, int(w * s)), max(1, int(h * s))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


# The registry's order is part of a run's plan (renderer by turns): it is the same whichever module
# is imported first
ORDER = ("matplotlib", "plotly", "vegalite", "latex", "html", "mermaid", "graphviz", "schemdraw", "rdkit",
         "docx", "svg", "webscreen", "tikz", "asymptote", "lilypond")


def register(*new: Renderer) -> None:
    """Add renderers to RENDERERS, keeping the canonical ORDER (unknown names last, in arrival order)."""
    items = {**RENDERERS, **{r.name: r for r in new}}
    RENDERERS.clear()
    RENDERERS.update(sorted(items.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else len(ORDER)))


# SchemDraw, RDKit, DOCX, SVG and web screens (renderers_py) and the TeX-family and music renderers
# (renderers_tex: TikZ/pgfplots, Asymptote, LilyPond) add themselves to RENDERERS when imported (they
# import this module's Renderer, so they come last; a plain import also works when imported first)
import generators.docs.renderers_py  # noqa: E402,F401
import generators.docs.renderers_tex  # noqa: E402,F401
