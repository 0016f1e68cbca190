"""Asymptote templates: bar and pie charts (table data) and measured geometry figures (a triangle or
a rectangle with labelled sides and angles) with their own data and questions.

Coordinates are in centimetres (``unitsize(1cm)``); labels are typeset by LaTeX and read back from
the PDF by pdftotext, so every side length and angle asked about is a label on the figure.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from generators.docs.bank import Domain
from generators.docs.data import TableData
from generators.docs.qa import QA, UNANSWERABLE, _mc
from generators.docs.templates.pages import tex

THINGS = ("garden bed", "display stand", "roof truss", "sign panel", "plot", "stage platform", "banner")


def _s(text: str) -> str:
    """A LaTeX label as an Asymptote string literal."""
    return '"' + tex(text).replace('"', "''") + '"'


def _pen(hexcolor: str) -> str:
    return f"rgb(\"{hexcolor.lstrip('#')}\")"


def _head(st: dict[str, Any], rng: np.random.Generator) -> str:
    font = str(rng.choice(["", 'texpreamble("\\renewcommand{\\familydefault}{\\sfdefault}");']))
    return f"unitsize(1cm);\ndefaultpen(fontsize({int(rng.integers(11, 14))}pt));\n{font}\n"


def _frame(st: dict[str, Any], title: str) -> str:
    """Title above the picture, and a tinted background behind everything drawn so far."""
    bg = st["bg"] if st["bg"] != "#ffffff" else "#eef3f8"
    return (f"label(\"\\large\\bfseries \" + {_s(title)}, point(N), 3 * N);\n"
            f"shipout(bbox(0.6cm, Fill({_pen(bg)})));\n")


def _bar(t: TableData, st: dict[str, Any], rng: np.random.Generator) -> str:
    vals = t.column(0)
    top = max(vals) or 1
    step = max(1.8, 0.22 * max(len(x) for x in t.labels) + 0.5)
    color = st["palette"][int(rng.integers(0, 5))]
    out = [f"real h = 7, w = {step:.2f};", f"pen bar = {_pen(color)};"]
    for i, (lab, v) in enumerate(zip(t.labels, vals, strict=True)):
        x = i * step
        out.append(f"filldraw(box(({x + 0.25 * step:.2f}, 0), ({x + 0.75 * step:.2f}, {7 * v / top:.3f})), bar, black);")
        out.append(f"label({_s(t.cell(i, 0))}, ({x + step / 2:.2f}, {7 * v / top:.3f}), N);")
        out.append(f"label({_s(lab)}, ({x + step / 2:.2f}, 0), S);")
    out.append(f"draw((0, 0) -- ({len(vals) * step:.2f}, 0), linewidth(1));")
    out.append(f"label({_s(t.header(0))}, (-0.3, 3.5), W);")
    out.append(f"label({_s(t.label)}, ({len(vals) * step / 2:.2f}, -1.1), S);")
    return "\n".join(out) + "\n"


def _pie(t: TableData, st: dict[str, Any], rng: np.random.Generator) -> str:
    vals = t.column(0)
    total = sum(vals) or 1
    angle = float(rng.choice([90, 0, 30]))
    out = []
    for i, v in enumerate(vals):
        sweep = 360 * v / total
        mid = math.radians(angle + sweep / 2)
        color = st["palette"][i % len(st["palette"])]
        out.append(f"filldraw((0,0) -- arc((0,0), 3.4, {angle:.2f}, {angle + sweep:.2f}) -- cycle, "
                   f"{_pen(color)}, white + linewidth(1.5));")
        align = "E" if math.cos(mid) >= 0 else "W"
        out.append(f"label({_s(f'{t.labels[i]} ({t.cell(i, 0)})')}, "
                   f"({3.6 * math.cos(mid):.3f}, {3.6 * math.sin(mid):.3f}), {align});")
        angle += sweep
    out.append(f"label({_s(f'{t.header(0)} by {t.label.lower()}')}, (0, -4.2));")
    return "\n".join(out) + "\n"


# -- geometry ---------------------------------------------------------------------------------------
@dataclass
class GeometryData:
    """A measured figure: named vertices, labelled side lengths and (triangle) angles in degrees."""

    title: str
    kind: str  # triangle | rectangle
    unit: str
    vertices: list[str]
    points: list[list[float]]  # drawing coordinates, cm
    sides: dict[str, float]  # "AB" -> length (one decimal), as labelled
    angles: dict[str, int]  # vertex -> degrees (triangle), as labelled; they add up to 180

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    def side(self, name: str) -> str:
        return f"{self.sides[name]:.1f} {self.unit}"

    def qa(self, rng: np.random.Generator) -> list[QA]:
        return geometry_qa(self, rng)


def sample_geometry(rng: np.random.Generator, d: Domain, org: str) -> GeometryData:
    thing = str(rng.choice(THINGS))
    unit = str(rng.choice(["m", "cm"]))
    if rng.random() < 0.6:
        while True:
            c = float(rng.uniform(6, 9))
            p = [[0.0, 0.0], [c, 0.0], [float(rng.uniform(0.5, c - 0.5)), float(rng.uniform(3, 6))]]
            ang = [_angle(p[i], p[(i + 1) % 3], p[(i + 2) % 3]) for i in range(3)]
            if min(ang) > 28 and len({round(a) for a in ang}) == 3:
                break
        names = ["A", "B", "C"]
        sides = {f"{names[i]}{names[(i + 1) % 3]}": round(math.dist(p[i], p[(i + 1) % 3]) * 1.0, 1) for i in range(3)}
        deg = [round(a) for a in ang]
        deg[2] = 180 - deg[0] - deg[1]
        return GeometryData(f"{org}: {thing} ({unit})", "triangle", unit, names, p, sides, dict(zip(names, deg, strict=True)))
    w, h = round(float(rng.uniform(5, 9)), 1), round(float(rng.uniform(2.5, 5)), 1)
    names = ["P", "Q", "R", "S"]
    p = [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]]
    sides = {"PQ": w, "QR": h, "PR": round(math.hypot(w, h), 1)}
    return GeometryData(f"{org}: {thing} ({unit})", "rectangle", unit, names, p, sides, {})


def _angle(a: list[float], b: list[float], c: list[float]) -> float:
    """Interior angle at ``a`` (degrees) between rays to ``b`` and ``c``."""
    v, w = np.subtract(b, a), np.subtract(c, a)
    return float(np.degrees(np.arccos(np.dot(v, w) / (np.linalg.norm(v) * np.linalg.norm(w)))))


def write_geometry(g: GeometryData, st: dict[str, Any], rng: np.random.Generator) -> str:
    pts = [f"({x:.3f}, {y:.3f})" for x, y in g.points]
    fill = st["palette"][int(rng.integers(0, 5))]
    out = [f"pair {n} = {p};" for n, p in zip(g.vertices, pts, strict=True)]
    out.append(f"filldraw({'--'.join(g.vertices)}--cycle, {_pen(fill)} + opacity(0.35), black + linewidth(1.2));")
    cx, cy = np.mean(g.points, axis=0)
    for n in g.vertices:
        out.append(f"dot({n}); label(\"${n}$\", {n}, unit({n} - ({cx:.3f}, {cy:.3f})) * 1.4);")
    for name, length in g.sides.items():
        a, b = name[0], name[1]
        if g.kind == "rectangle" and name == "PR":
            out.append(f"draw({a}--{b}, dashed + gray);")
        out.append(f"label({_s(f'{length:.1f} {g.unit}')}, ({a} + {b}) / 2, "
                   f"unit(({a} + {b}) / 2 - ({cx:.3f}, {cy:.3f})) * (length({a} - {b}) < 0.1 ? 0 : 1.2));")
    for n, deg in g.angles.items():
        out.append(f"label(\"${deg}^\\circ$\", {n} + unit(({cx:.3f}, {cy:.3f}) - {n}) * 1.1);")
    if g.kind == "rectangle":
        out.append("draw(shift(P) * scale(0.35) * box((0,0), (1,1)));")
    return "\n".join(out) + "\n"


def geometry_qa(g: GeometryData, rng: np.random.Generator) -> list[QA]:
    qa: list[QA] = [("What is the title of the figure?", g.title, (g.title,))]
    names = list(g.sides)
    s = names[int(rng.integers(len(names)))]
    qa.append((f"What is the length of {'diagonal' if s == 'PR' else 'side'} {s}?", g.side(s), (g.side(s),)))
    edges = names if g.kind == "triangle" else ["PQ", "QR"]
    per = sum(g.sides[e] for e in edges) * (1 if g.kind == "triangle" else 2)
    qa.append(("What is the perimeter of the figure?", f"{per:.1f} {g.unit}", tuple(g.side(e) for e in edges)))
    qa.append(("How many labelled vertices does the figure have?", str(len(g.vertices)), ()))
    longest = max(edges, key=lambda e: g.sides[e])
    mc = _mc(rng, "Which side is the longest?", longest, list(edges) + ["none of them"], tuple(g.side(e) for e in edges))
    if mc:
        qa.append(mc)
    a, b = edges[0], edges[1]
    qa.append((f"Is side {a} longer than side {b}?", "Yes" if g.sides[a] > g.sides[b] else "No", (g.side(a), g.side(b))))
    if g.kind == "triangle":
        v = g.vertices[int(rng.integers(3))]
        qa.append((f"What is the measure of angle {v}?", f"{g.angles[v]}°", (str(g.angles[v]),)))
        big = max(g.angles, key=g.angles.get)  # type: ignore[arg-type]
        qa.append(("At which vertex is the largest angle?", big, tuple(str(x) for x in g.angles.values())))
        kind = "obtuse" if g.angles[big] > 90 else "right" if g.angles[big] == 90 else "acute"
        qa.append(("Is the triangle acute, right or obtuse?", kind, (str(g.angles[big]),)))
    else:
        area = g.sides["PQ"] * g.sides["QR"]
        qa.append(("What is the area of the rectangle?", f"{area:.2f} {g.unit}²", (g.side("PQ"), g.side("QR"))))
    qa.append(("What material is the figure made of?", UNANSWERABLE, ()))
    qa.append(("Summarize the figure.", f"A {g.kind} {''.join(g.vertices)} with sides "
               + ", ".join(f"{e} = {g.side(e)}" for e in edges) + ".", tuple(g.side(e) for e in edges)))
    return qa


def write(figure_type: str, data: Any, rng: np.random.Generator, st: dict[str, Any]) -> str:
    if isinstance(data, GeometryData):
        body = write_geometry(data, st, rng)
    else:
        body = (_pie if figure_type == "pie" else _bar)(data, st, rng)
    return _head(st, rng) + body + _frame(st, data.title)
