"""TikZ/pgfplots templates (standalone class): bar, line, scatter and pie charts; flowchart, tree,
state and network diagrams with node positions computed here (no graph-drawing library needed).

Every value label is printed from the same :func:`~generators.docs.data.fmt` string as the data
(pgfplots shows it as explicit point meta), so the drawn text and the QA answers agree.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from generators.docs.data import GraphData, TableData
from generators.docs.templates.pages import _rgb, tex

FONTS = ("", r"\renewcommand{\familydefault}{\sfdefault}")


def _head(st: dict[str, Any], rng: np.random.Generator, plots: bool) -> str:
    colors = "\n".join(rf"\definecolor{{c{i}}}{{rgb}}{{{_rgb(c)}}}" for i, c in enumerate(st["palette"]))
    pgf = "\\usepackage{pgfplots}\n\\pgfplotsset{compat=1.18}\n" if plots else "\\usepackage{tikz}\n"
    return (f"\\documentclass[border={int(rng.integers(8, 20))}pt]{{standalone}}\n{pgf}"
            f"\\usetikzlibrary{{shapes.geometric,arrows.meta,positioning,backgrounds}}\n"
            "\\tikzset{every picture/.style={show background rectangle, background rectangle/.style="
            "{fill=page, inner frame sep=10pt}}}\n"
            f"{FONTS[int(rng.integers(len(FONTS)))]}\n{colors}\n"
            f"\\definecolor{{page}}{{rgb}}{{{_rgb(st['bg'] if st['bg'] != '#ffffff' else '#eef3f8')}}}\n"
            "\\definecolor{bg}{rgb}{1,1,1}\n\\begin{document}\n")


def _ticks(labels: list[str]) -> str:
    return ",".join("{" + tex(x) + "}" for x in labels)


def _axis(t: TableData, opts: str, plots: str, rng: np.random.Generator, width: float = 0.0) -> str:
    width = width or min(24.0, max(9.0, len(t.rows) * max(1.6, 0.2 * max(len(x) for x in t.labels) + 0.6)))
    return (f"\\begin{{axis}}[title={{\\textbf{{{tex(t.title)}}}}}, width={width:.1f}cm, height=8cm, "
            f"axis background/.style={{fill=bg}}, {opts}]\n{plots}\\end{{axis}}\n")


def _bar(t: TableData, rng: np.random.Generator) -> str:
    n, k = len(t.rows), len(t.columns)
    plots = ""
    for j in range(k):
        coords = " ".join(f"({i},{t.rows[i][j + 1]}) [{t.cell(i, j)}]" for i in range(n))
        plots += f"\\addplot[fill=c{j}, draw=black] coordinates {{{coords}}};\n"
    legend = f"\\legend{{{_ticks([t.header(j) for j in range(k)])}}}\n" if k > 1 else ""
    opts = (f"ybar, bar width={0.6 / k:.2f}cm, ymin=0, enlarge y limits={{upper,value=0.18}}, "
            f"xtick={{0,...,{n - 1}}}, xticklabels={{{_ticks(t.labels)}}}, "
            "point meta=explicit symbolic, nodes near coords, nodes near coords style={font=\\footnotesize}, "
            f"ylabel={{{tex(t.header(0) if k == 1 else t.measure or t.header(0))}}}, xlabel={{{tex(t.label)}}}, "
            "legend style={at={(0.5,-0.3)}, anchor=north, legend columns=-1}")
    return _axis(t, opts, plots + legend, rng)


def _line(t: TableData, rng: np.random.Generator) -> str:
    n, k = len(t.rows), len(t.columns)
    marks = ("*", "square*", "triangle*", "diamond*")
    plots = ""
    for j in range(k):
        coords = " ".join(f"({i},{t.rows[i][j + 1]}) [{t.cell(i, j)}]" for i in range(n))
        place = ("above", "below", "left")[j % 3]  # keep the series' value labels apart
        plots += (f"\\addplot[color=c{j}, very thick, mark={marks[j % len(marks)]}, "
                  f"every node near coord/.append style={{{place}}}] coordinates {{{coords}}};\n")
    legend = f"\\legend{{{_ticks(t.columns)}}}\n" if k > 1 else ""
    opts = (f"xtick={{0,...,{n - 1}}}, xticklabels={{{_ticks(t.labels)}}}, grid=major, "
            "enlarge y limits={upper,value=0.15}, point meta=explicit symbolic, nodes near coords, "
            "nodes near coords style={font=\\footnotesize}, enlarge x limits=0.08, "
            f"ylabel={{{tex(t.header(0) if k == 1 else t.measure or t.header(0))}}}, xlabel={{{tex(t.label)}}}, "
            "legend pos=outer north east")
    return _axis(t, opts, plots + legend, rng)


def _scatter(t: TableData, rng: np.random.Generator) -> str:
    coords = " ".join(f"({t.rows[i][1]},{t.rows[i][2]}) [{tex(t.labels[i])}]" for i in range(len(t.rows)))
    plots = (f"\\addplot[only marks, mark=*, mark size=3.5pt, color=c{int(rng.integers(0, 5))}] "
             f"coordinates {{{coords}}};\n")
    opts = ("point meta=explicit symbolic, nodes near coords, nodes near coords style={font=\\footnotesize, above}, "
            f"grid=major, enlargelimits=0.18, xlabel={{{tex(t.header(0))}}}, ylabel={{{tex(t.header(1))}}}, "
            "scaled ticks=false, tick label style={/pgf/number format/1000 sep={}}")
    return _axis(t, opts, plots, rng, width=float(rng.choice([11.0, 13.0])))


def _pie(t: TableData, rng: np.random.Generator) -> str:
    vals = t.column(0)
    total = sum(vals) or 1
    angle = float(rng.choice([90, 0, 45]))
    out = [rf"\node[font=\Large\bfseries] at (0,4.6) {{{tex(t.title)}}};"]
    for i, v in enumerate(vals):
        sweep = 360 * v / total
        mid = angle + sweep / 2
        out.append(rf"\fill[c{i % 8}, draw=white, line width=1.5pt] (0,0) -- ({angle:.2f}:3.2) "
                   rf"arc ({angle:.2f}:{angle + sweep:.2f}:3.2) -- cycle;")
        anchor = "west" if math.cos(math.radians(mid)) >= 0 else "east"
        out.append(rf"\node[anchor={anchor}, font=\small] at ({mid:.2f}:3.45) {{{tex(t.labels[i])} ({t.cell(i, 0)})}};")
        angle += sweep
    out.append(rf"\node[font=\small, text=black!70] at (0,-4.1) {{{tex(t.header(0))} by {tex(t.label.lower())}}};")
    return "\n".join(out) + "\n"


def write_chart(figure_type: str, t: TableData, rng: np.random.Generator, st: dict[str, Any]) -> str:
    if figure_type == "pie":
        body = _pie(t, rng)
        return _head(st, rng, False) + "\\begin{tikzpicture}\n" + body + "\\end{tikzpicture}\n\\end{document}\n"
    body = {"bar": _bar, "line": _line, "scatter": _scatter}[figure_type](t, rng)
    return _head(st, rng, True) + "\\begin{tikzpicture}\n" + body + "\\end{tikzpicture}\n\\end{document}\n"


# -- diagrams ---------------------------------------------------------------------------------------
def _width(label: str) -> float:
    return 0.19 * len(label) + 0.9  # cm of a \small node, with padding


def _tree_layout(g: GraphData) -> dict[str, tuple[float, float]]:
    kids: dict[str, list[str]] = {n: [] for n in g.nodes}
    for a, b, _ in g.edges:
        kids[a].append(b)
    pos: dict[str, tuple[float, float]] = {}
    cursor = [0.0]

    def place(n: str, depth: int) -> float:
        if not kids[n]:
            x = cursor[0] + _width(n) / 2
            cursor[0] += _width(n) + 0.5
        else:
            xs = [place(c, depth + 1) for c in kids[n]]
            x = (xs[0] + xs[-1]) / 2
        pos[n] = (x, -2.0 * depth)
        return x

    place(g.nodes[0], 0)
    return pos


def _layout(g: GraphData, rng: np.random.Generator) -> dict[str, tuple[float, float]]:
    n = len(g.nodes)
    if g.kind == "tree":
        return _tree_layout(g)
    if g.kind == "network":
        r = max(3.0, sum(_width(x) for x in g.nodes) / (2 * math.pi) * 1.2)
        return {x: (r * math.cos(2 * math.pi * i / n + math.pi / 2), r * math.sin(2 * math.pi * i / n + math.pi / 2))
                for i, x in enumerate(g.nodes)}
    if g.kind == "state":
        xs = np.cumsum([0.0] + [(_width(a) + _width(b)) / 2 + 1.4 for a, b in itertools.pairwise(g.nodes)])
        return {x: (float(xs[i]), 0.0) for i, x in enumerate(g.nodes)}
    return {x: (0.0, -1.7 * i) for i, x in enumerate(g.nodes)}  # flowchart: top to bottom


def write_diagram(figure_type: str, g: GraphData, rng: np.random.Generator, st: dict[str, Any]) -> str:
    pos = _layout(g, rng)
    fill = int(rng.integers(0, 5))
    shape = {"flowchart": "rectangle, rounded corners", "tree": "rectangle", "state": "circle",
             "network": "ellipse"}[g.kind]
    decision = {e[0] for e in g.edges if e[2]} if g.kind == "flowchart" else set()
    top = max(y for _, y in pos.values()) + 1.6
    cx = (min(x for x, _ in pos.values()) + max(x for x, _ in pos.values())) / 2
    lines = [rf"\begin{{tikzpicture}}[box/.style={{draw=black!70, fill=c{fill}!35, {shape}, font=\small, "
             r"inner sep=5pt, minimum height=0.8cm}, >={Stealth[length=2.6mm]}]",
             rf"\node[font=\Large\bfseries] at ({cx:.2f},{top:.2f}) {{{tex(g.title)}}};"]
    ids = {x: f"n{i}" for i, x in enumerate(g.nodes)}
    for x in g.nodes:
        extra = ", diamond, aspect=2.4, fill=c1!40" if x in decision else ""
        lines.append(rf"\node[box{extra}] ({ids[x]}) at ({pos[x][0]:.2f},{pos[x][1]:.2f}) {{{tex(x)}}};")
    arrow = "-" if g.kind == "network" else "->"
    order = {x: i for i, x in enumerate(g.nodes)}
    for a, b, lab in g.edges:
        back = order[b] < order[a] and g.kind in ("flowchart", "state")
        route = ("to[bend left=60]" if g.kind == "state" else "to[out=0, in=0, looseness=1.6]") if back else "--"
        text = rf" node[midway, fill=white, font=\footnotesize, inner sep=1.5pt] {{{tex(lab)}}}" if lab else ""
        lines.append(rf"\draw[{arrow}, thick, c5] ({ids[a]}) {route}{text} ({ids[b]});")
    lines.append(r"\end{tikzpicture}")
    return _head(st, rng, False) + "\n".join(lines) + "\n\\end{document}\n"


def write(figure_type: str, data: Any, rng: np.random.Generator, st: dict[str, Any]) -> str:
    if isinstance(data, GraphData):
        return write_diagram(figure_type, data, rng, st)
    return write_chart(figure_type, data, rng, st)

