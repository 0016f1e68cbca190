"""Renderers for Python libraries (sandbox worker) and for SVG and web screens (Chromium pool).

- ``schemdraw`` (circuits) and ``rdkit`` (molecules): ``generate_diagram(data) -> PIL.Image`` in the
  sandbox worker; the text the figure's matplotlib artists drew is the evidence (``_zygote.py``).
- ``docx``: ``generate_document(data) -> docx.Document`` in the sandbox worker; the .docx is then
  converted by LibreOffice (headless, in the jail, a fresh profile per job) to PDF, page 1 rasterised by
  pdftoppm; pdftotext's word boxes are the evidence, as for LaTeX.
- ``svg``: a standalone SVG document shown inline in a Chromium page (network aborted); its text
  nodes are the evidence and, for pointing, elements marked ``data-pt`` report their boxes.
- ``webscreen``: a full HTML page (app screen, dashboard, form, landing page) at a desktop width.
"""

from __future__ import annotations

import re

from generators.docs.evidence import pdftotext_lines
from generators.docs.renderers import (
    RenderContext,
    Renderer,
    _data_file,
    _drawn_json,
    _need,
    crop_margins,
    register,
)
from generators.docs.sandbox import RenderError

DOCX_DPI = 110
SCREEN_WIDTHS = (1024, 1280, 1366)
# LibreOffice needs a profile dir of its own per run (two runs sharing one hand work to each other). The
# first job of a worker makes a clean one (--terminate_after_init: start, write the profile, exit) in the
# jail's private /tmp; each job converts with a copy of it (~40% faster than a fresh profile), removed after.
_SOFFICE = ('b=/tmp/lo-base; p=/tmp/lo-$$; trap \'rm -rf "$p" "$b.$$"\' EXIT; '
            '[ -d "$b" ] || { soffice "-env:UserInstallation=file://$b.$$" --headless --norestore --terminate_after_init '
            '>/dev/null 2>&1; mv -T "$b.$$" "$b" 2>/dev/null; }; cp -r "$b" "$p" 2>/dev/null; '
            'soffice "-env:UserInstallation=file://$p" --headless --norestore --nolockcheck --convert-to pdf doc.docx '
            ">soffice.txt 2>&1 && test -s doc.pdf && "
            f"pdftoppm -png -r {DOCX_DPI} -f 1 -l 1 -singlefile doc.pdf page && "
            "pdftotext -f 1 -l 1 -bbox-layout doc.pdf words.html")


def render_figure(code: str, data: str, ctx: RenderContext) -> bytes:
    """SchemDraw and RDKit: ``generate_diagram(data)`` in the sandbox; matplotlib's text is the evidence."""
    out = ctx.sandbox.run("python", {"code.py": code, **_data_file(data)}, ("out.png", "drawn.json"), mode="diagram")
    ctx.drawn.extend(_drawn_json(out.get("drawn.json", b"")))
    return _need(out, "out.png")


def render_docx(code: str, data: str, ctx: RenderContext) -> bytes:
    files = {"code.py": code, **_data_file(data)}
    docx = _need(ctx.sandbox.run("python", files, ("out.docx",), mode="docx"), "out.docx")
    out = ctx.sandbox.run("exec", {"doc.docx": docx}, ("page.png", "words.html"), argv=["sh", "-c", _SOFFICE])
    ctx.drawn.extend(pdftotext_lines(out.get("words.html", b"").decode(errors="replace"), DOCX_DPI))
    return crop_margins(_need(out, "page.png"), int(ctx.rng.integers(24, 60)))


_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.I)
_SIZE = re.compile(r"(?<![\w-])(width|height)\s*=\s*[\"']\s*([\d.]+)\s*(px)?\s*[\"']", re.I)
_VIEWBOX = re.compile(r"<svg\b[^>]*?\bviewBox\s*=\s*[\"']\s*[-\d.]+[\s,]+[-\d.]+[\s,]+([\d.]+)[\s,]+([\d.]+)", re.I | re.S)


def svg_page(svg: str) -> tuple[str, int, int]:
    """An HTML page showing ``svg`` inline at its own size, and that size (px, capped to 2400)."""
    body = _PROLOG.sub("", svg, count=1).strip()
    if not body.lower().startswith("<svg"):
        raise RenderError("the SVG document must start with <svg")
    size: dict[str, float] = {}
    head = body[: body.find(">") + 1]
    for m in _SIZE.finditer(head):
        size.setdefault(m.group(1).lower(), float(m.group(2)))
    vb = _VIEWBOX.search(head)
    w = size.get("width") or (float(vb.group(1)) if vb else 900.0)
    h = size.get("height") or (float(vb.group(2)) * w / float(vb.group(1)) if vb and float(vb.group(1)) else 600.0)
    w, h = int(min(max(w, 1), 2400)), int(min(max(h, 1), 2400))
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><style>html,body{margin:0;background:#fff}"
            f"body>svg{{display:block;width:{w}px;height:{h}px}}</style></head><body>{body}</body></html>")
    return page, w, h


def render_svg(code: str, data: str, ctx: RenderContext) -> bytes:
    page, w, h = svg_page(code)
    return ctx.browser.render("html", page, width=w, height=h, texts=ctx.drawn)


def render_webscreen(code: str, data: str, ctx: RenderContext) -> bytes:
    width = int(SCREEN_WIDTHS[int(ctx.rng.integers(len(SCREEN_WIDTHS)))])
    return ctx.browser.render("html", code, width=width, height=720, texts=ctx.drawn)


PY_RENDERERS = (
    Renderer("schemdraw", ("diagrams",), "json", "python",
             "Python defining generate_diagram(data) -> PIL.Image that draws an electric circuit with schemdraw "
             "(matplotlib backend: schemdraw.use('matplotlib'); Drawing(show=False); label every component with its "
             "name and value; save the drawn figure's .fig to a BytesIO as PNG and return Image.open(buf)); data is "
             "the parsed JSON.", render_figure),
    Renderer("rdkit", ("other",), "json", "python",
             "Python defining generate_diagram(data) -> PIL.Image that draws the molecules of the data with RDKit "
             "(Chem.MolFromSmiles, rdMolDraw2D.MolDraw2DCairo) placed on a matplotlib figure (imshow) with the "
             "names, formulas and properties written as matplotlib text; save the figure to a BytesIO, do not "
             "close it, return Image.open(buf); data is the parsed JSON.", render_figure),
    Renderer("docx", ("other", "tables"), "json", "python",
             "Python defining generate_document(data) that builds and RETURNS a python-docx Document (headings, "
             "paragraphs, tables, the data written out as text; no images, no file or network access); data is "
             "the parsed JSON. It is converted to PDF and the first page is shown.", render_docx),
    Renderer("svg", ("charts", "diagrams"), "json", "svg",
             "A complete standalone SVG document (<svg xmlns=... width=... height=...>) drawn by hand: shapes "
             "and <text> elements with the data hard-coded, no scripts, no external resources or fonts.",
             render_svg),
    Renderer("webscreen", ("other", "tables"), "json", "html",
             "A complete single-file HTML page of a realistic web app screen (dashboard, form, settings, product "
             "or landing page) with a navigation bar, inline CSS, the data hard-coded, no scripts, no external "
             "resources.", render_webscreen),
)
register(*PY_RENDERERS)
