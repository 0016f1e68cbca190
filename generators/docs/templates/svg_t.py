"""Hand-written SVG: bar, horizontal bar and line charts over tables, layered diagrams over graphs.

Every label and value is a ``<text>`` element (the browser reports it as drawn text); the marks and
nodes carry ``data-pt`` so the SVG pointing pages (``points_svg.py``) can reuse the same drawing code.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from generators.docs.data import GraphData, TableData

FONTS = ("DejaVu Sans", "DejaVu Serif", "Verdana", "Georgia", "DejaVu Sans Mono")


def e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def text(x: float, y: float, s: Any, size: float, anchor: str = "middle", weight: str = "normal",
         fill: str = "#222", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:g}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}"{extra}>{e(s)}</text>')


def svg(width: int, height: int, body: list[str], bg: str, font: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{e(font)}">\n'
            f'<rect width="{width}" height="{height}" fill="{bg}"/>\n' + "\n".join(body) + "\n</svg>\n")


def _panel(x0: float, y0: float, x1: float, y1: float, st: dict[str, Any]) -> str:
    """The plot area, tinted apart from the page background (a line chart is mostly empty)."""
    fill = "#ffffff" if st["bg"] != "#ffffff" else "#eef2f7"
    return f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" fill="{fill}" stroke="#ccc"/>'


def _bars(t: TableData, st: dict[str, Any], rng: np.random.Generator, horizontal: bool) -> tuple[int, int, list[str]]:
    vals, labels, n = t.column(0), t.labels, len(t.rows)
    top = max(vals) * 1.15 or 1.0
    size = int(rng.integers(12, 15))
    colors = st["palette"]
    body: list[str] = []
    if horizontal:
        w, bar_h = int(rng.integers(700, 860)), int(rng.integers(30, 42))
        left, y0 = 190, 80
        h = y0 + n * (bar_h + 14) + 60
        for i, (lab, v) in enumerate(zip(labels, vals, strict=True)):
            y = y0 + i * (bar_h + 14)
            bw = (w - left - 90) * v / top
            body.append(f'<rect data-pt="bar:{e(lab)}" x="{left}" y="{y}" width="{bw:.1f}" height="{bar_h}" '
                        f'fill="{colors[i % len(colors)]}" rx="3"/>')
            body.append(text(left - 10, y + bar_h * 0.65, lab, size, "end"))
            body.append(text(left + bw + 8, y + bar_h * 0.65, t.cell(i, 0), size, "start", "bold"))
        body.append(text((left + w) / 2, h - 20, t.header(0), size + 1, extra=' font-style="italic"'))
        return w, h, body
    w, h = int(rng.integers(720, 900)), int(rng.integers(460, 560))
    left, bottom, y0 = 80, h - 90, 80
    slot = (w - left - 30) / n
    body.append(_panel(left, y0 - 30, w - 20, bottom, st))
    body.append(f'<line x1="{left}" y1="{bottom}" x2="{w - 20}" y2="{bottom}" stroke="#444"/>')
    for i, (lab, v) in enumerate(zip(labels, vals, strict=True)):
        bh = (bottom - y0) * v / top
        x = left + i * slot + slot * 0.18
        body.append(f'<rect data-pt="bar:{e(lab)}" x="{x:.1f}" y="{bottom - bh:.1f}" width="{slot * 0.64:.1f}" '
                    f'height="{bh:.1f}" fill="{colors[i % len(colors)]}"/>')
        body.append(text(x + slot * 0.32, bottom - bh - 6, t.cell(i, 0), size, weight="bold"))
        body.append(text(x + slot * 0.32, bottom + 20, lab, size - 1))
    body.append(text(22, (y0 + bottom) / 2, t.header(0), size + 1,
                     extra=f' transform="rotate(-90 22 {(y0 + bottom) / 2:.1f})"'))
    body.append(text((left + w) / 2, h - 25, t.label, size + 1, extra=' font-style="italic"'))
    return w, h, body


def _line(t: TableData, st: dict[str, Any], rng: np.random.Generator) -> tuple[int, int, list[str]]:
    w, h = int(rng.integers(760, 920)), int(rng.integers(460, 540))
    left, bottom, y0, right = 80, h - 110, 80, w - 40
    allv = [v for j in range(len(t.columns)) for v in t.column(j)]
    lo, hi = min(allv) * 0.9, max(allv) * 1.1 or 1.0
    n = len(t.rows)
    size = int(rng.integers(11, 14))
    xs = [left + (right - left) * i / max(1, n - 1) for i in range(n)]
    body = [_panel(left - 20, y0 - 30, right + 20, bottom, st),
            f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#444"/>']
    for i, lab in enumerate(t.labels):
        body.append(text(xs[i], bottom + 20, lab, size))
    for j, col in enumerate(t.columns):
        c = st["palette"][j % len(st["palette"])]
        ys = [bottom - (bottom - y0) * (v - lo) / (hi - lo) for v in t.column(j)]
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        body.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2.5"/>')
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            body.append(f'<circle data-pt="point:{e(col)}:{e(t.labels[i])}" cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{c}"/>')
            body.append(text(x, y - 10, t.cell(i, j), size - 1, fill=c))
        ly = h - 60 + 0 * j
        lx = left + j * 180
        body.append(f'<rect x="{lx}" y="{ly - 10}" width="14" height="14" fill="{c}"/>')
        body.append(text(lx + 20, ly + 2, t.header(j) if len(t.columns) == 1 else col, size, "start"))
    return w, h, body


def _layers(g: GraphData) -> list[list[str]]:
    """Nodes by their distance from the first node (edges followed both ways for the undirected)."""
    depth = {g.nodes[0]: 0}
    todo = [g.nodes[0]]
    while todo:
        n = todo.pop(0)
        for a, b, _ in g.edges:
            if a == n and b not in depth:
                depth[b] = depth[n] + 1
                todo.append(b)
    for n in g.nodes:
        depth.setdefault(n, max(depth.values()) + 1)
    out: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for n in g.nodes:
        out[depth[n]].append(n)
    return out


def _diagram(g: GraphData, st: dict[str, Any], rng: np.random.Generator) -> tuple[int, int, list[str]]:
    layers = _layers(g)
    bw, bh, gap_y = 170, 46, int(rng.integers(60, 80))
    widest = max(len(x) for x in layers)
    w = max(600, widest * (bw + 40) + 80)
    h = 90 + len(layers) * (bh + gap_y) + 20
    pos: dict[str, tuple[float, float]] = {}
    for k, layer in enumerate(layers):
        for i, n in enumerate(layer):
            pos[n] = (w / 2 + (i - (len(layer) - 1) / 2) * (bw + 40), 90 + k * (bh + gap_y))
    fill, size = st["palette"][int(rng.integers(0, 5))], int(rng.integers(12, 15))
    rx = int(rng.choice([0, 8, 23]))
    body = ['<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for a, b, lab in g.edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        sy, ey = (y1 + bh, y2) if y2 > y1 else (y1, y2 + bh)
        body.append(f'<line x1="{x1:.1f}" y1="{sy:.1f}" x2="{x2:.1f}" y2="{ey:.1f}" stroke="#555" stroke-width="1.8" '
                    'marker-end="url(#arrow)"/>')
        if lab:
            body.append(text((x1 + x2) / 2 + 8, (sy + ey) / 2, lab, size - 1, "start", fill="#444"))
    for n, (x, y) in pos.items():
        body.append(f'<rect data-pt="node:{e(n)}" x="{x - bw / 2:.1f}" y="{y:.1f}" width="{bw}" height="{bh}" '
                    f'rx="{rx}" fill="{fill}" stroke="#333"/>')
        body.append(text(x, y + bh / 2 + size * 0.35, n, size if len(n) < 18 else size - 2, fill="#fff", weight="bold"))
    return w, h, body


def write_svg(figure_type: str, data: Any, rng: np.random.Generator, st: dict[str, Any]) -> str:
    font = str(rng.choice(FONTS))
    if isinstance(data, GraphData):
        w, h, body = _diagram(data, st, rng)
    elif figure_type == "line":
        w, h, body = _line(data, st, rng)
    else:
        w, h, body = _bars(data, st, rng, figure_type == "horizontal bar")
    size = min(int(rng.integers(19, 24)), int((w - 40) / (0.62 * max(1, len(data.title)))))
    body.insert(0, text(w / 2, 42, data.title, size, weight="bold"))
    return svg(w, h, body, st["bg"], font)
