"""SchemDraw circuits (matplotlib backend): a source and parts in a series loop or in parallel branches.

The data (``Circuit``) is the parts list; the code reads it and draws it, labelling every part with
its name and value, so the QA (values, counts, series/parallel, totals) is read from drawn labels.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from generators.docs.qa import QA, UNANSWERABLE, _mc

E12 = (1.0, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2)
KINDS = {"R": ("Resistor", "resistor", "Ω"), "C": ("Capacitor", "capacitor", "µF"), "L": ("Inductor2", "inductor", "mH")}
PURPOSES = ("LED driver", "sensor input", "filter stage", "heater control", "bias network", "test board",
            "power indicator", "timer stage")


@dataclass
class Circuit:
    title: str
    layout: str  # series | parallel
    source: list[str]  # [name, value] e.g. ["V1", "12 V"]
    parts: list[list[Any]]  # [name, kind letter, value text, value in base unit]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def _value(rng: np.random.Generator, kind: str) -> tuple[str, float]:
    base = float(rng.choice(E12))
    if kind == "R":
        mult = float(rng.choice([1.0, 10.0, 100.0, 1000.0, 10000.0]))
        ohms = round(base * mult, 6)
        return (f"{ohms / 1000:g} kΩ" if ohms >= 1000 else f"{ohms:g} Ω"), ohms
    mult = float(rng.choice([1.0, 10.0, 100.0]))
    return f"{base * mult:g} {KINDS[kind][2]}", base * mult


def sample_circuit(rng: np.random.Generator, org: str, layout: str) -> Circuit:
    n = int(rng.integers(2, 5))
    kinds = ["R"] * n
    if rng.random() < 0.5:  # one capacitor or inductor among the resistors
        kinds[int(rng.integers(n))] = str(rng.choice(["C", "L"]))
    counter: dict[str, int] = {}
    parts = []
    for k in kinds:
        counter[k] = counter.get(k, 0) + 1
        text, num = _value(rng, k)
        parts.append([f"{k}{counter[k]}", k, text, num])
    volts = str(rng.choice(["3.3 V", "5 V", "9 V", "12 V", "24 V"]))
    title = f"{org} {rng.choice(PURPOSES)}, {volts} ({layout})"
    return Circuit(title, layout, ["V1", volts], parts)


def _ohms(v: float) -> str:
    v = float(f"{v:.3g}")
    return f"{v / 1000:g} kΩ" if v >= 1000 else f"{v:g} Ω"


def circuit_qa(c: Circuit, rng: np.random.Generator) -> list[QA]:
    names = [p[0] for p in c.parts]
    res = [p for p in c.parts if p[1] == "R"]
    p = c.parts[int(rng.integers(len(c.parts)))]
    what = KINDS[p[1]][1]
    qa: list[QA] = [("What is the title of the circuit diagram?", c.title, (c.title,)),
                    (f"What is the value of the {what} {p[0]}?", p[2], (p[0], p[2])),
                    ("What is the voltage of the source V1?", c.source[1], (c.source[0], c.source[1])),
                    ("How many resistors does the circuit have?", str(len(res)), tuple(r[0] for r in res)),
                    ("How many components (not counting the source) are in the circuit?", str(len(c.parts)),
                     tuple(names)),
                    (f"Are {names[0]} and {names[1]} connected in series or in parallel?", c.layout.title(),
                     (names[0], names[1]))]
    if len(res) >= 2:
        vals = [r[3] for r in res]
        if vals.count(max(vals)) == 1:
            best = res[int(np.argmax(vals))]
            qa.append(("Which resistor has the largest resistance?", best[0],
                       tuple(x for r in res for x in (r[0], r[2]))))
        if len(res) == len(c.parts):
            total = sum(vals) if c.layout == "series" else 1 / sum(1 / v for v in vals)
            qa.append((f"What is the total resistance of the {len(res)} resistors?", _ohms(total),
                       tuple(x for r in res for x in (r[0], r[2]))))
    absent = next(f"{k}{i}" for k in ("L", "C", "R") for i in range(1, 9) if f"{k}{i}" not in names)
    mc = _mc(rng, "Which of these components is NOT in the circuit?", absent, [*names, absent], tuple(names))
    if mc:
        qa.append(mc)
    qa.append((f"What is the power rating of {names[0]}?", UNANSWERABLE, (names[0],)))
    qa.append(("Summarize the circuit.", f"A {c.source[1]} source V1 driving {len(c.parts)} components "
               f"({', '.join(names)}) in {c.layout}.", (c.source[1], *names)))
    return qa


CODE = '''import io

import matplotlib
import schemdraw
import schemdraw.elements as elm
from matplotlib.patches import Rectangle
from PIL import Image

schemdraw.use("matplotlib")
ELEMENTS = {{"R": elm.Resistor, "C": elm.Capacitor, "L": elm.{inductor}}}


def generate_diagram(data):
    matplotlib.rcParams["font.family"] = {font!r}
    parts = data["parts"]
    with schemdraw.Drawing(show=False, fontsize={size}, unit={unit}, lw={lw}) as d:
        d.config(bgcolor={bg!r}, color={color!r})
        src = d.add(elm.SourceV().up().label(data["source"][0] + "\\n" + data["source"][1]))
        if data["layout"] == "series":
            turn = (len(parts) + 1) // 2
            for i, (name, kind, value, _) in enumerate(parts):
                direction = "right" if i < turn else ("down" if i == turn else "left")
                e = getattr(ELEMENTS[kind](), direction)()
                d.add(e.label(name).label(value, loc="bottom"))
            if len(parts) == turn:
                d.add(elm.Line().down())
            d.add(elm.Line().tox(src.start))
            d.add(elm.Line().toy(src.start))
        else:
            top = d.add(elm.Line().right().at(src.end))
            for i, (name, kind, value, _) in enumerate(parts):
                if i:
                    top = d.add(elm.Line().right().at(top.end))
                d.add(elm.Dot().at(top.end))
                d.add(ELEMENTS[kind]().down().at(top.end).label(name).label(value, loc="bottom"))
            d.add(elm.Line().left().tox(src.start))
    fig = d.draw(show=False)
    # a title band above the drawing: grow the axes and the figure by the band's height
    (x0, x1), (y0, y1) = fig.ax.get_xlim(), fig.ax.get_ylim()
    w_in, h_in = fig.fig.get_size_inches()
    band = {band}
    fig.ax.set_ylim(y0, y1 + band)
    fig.fig.set_size_inches(w_in, h_in * (y1 + band - y0) / (y1 - y0))
    fig.ax.add_patch(Rectangle((x0, y1 + band * 0.15), x1 - x0, band * 0.8, facecolor={accent!r}, edgecolor="none"))
    size = min({tsize}, 72 * w_in * 0.9 / (0.6 * len(data["title"])))
    fig.ax.text((x0 + x1) / 2, y1 + band * 0.55, data["title"], ha="center", va="center", fontsize=size, color="white")
    buf = io.BytesIO()
    fig.fig.savefig(buf, format="png", dpi={dpi}, bbox_inches="tight", pad_inches=0.15, facecolor={bg!r})
    buf.seek(0)
    return Image.open(buf)
'''


def write_schemdraw(figure_type: str, c: Circuit, rng: np.random.Generator, st: dict[str, Any]) -> str:
    font = st["font"] if st["font"] != "Latin Modern Roman" else "DejaVu Serif"
    return CODE.format(font=font, size=int(rng.integers(11, 15)), unit=round(float(rng.uniform(2.5, 3.5)), 1),
                       lw=round(float(rng.uniform(1.2, 2.2)), 1), bg=st["bg"],
                       color=str(rng.choice(["#000000", "#1a1a40", "#3b2f2f", st["palette"][0]])),
                       band=round(float(rng.uniform(1.2, 1.6)), 2), tsize=int(rng.integers(14, 18)),
                       dpi=int(rng.choice([130, 150, 170])), inductor=KINDS["L"][0],
                       accent=st["palette"][0])


def own_content(rng: np.random.Generator, org: str, figure_type: str) -> tuple[Circuit, list[QA]]:
    c = sample_circuit(rng, org, figure_type.split()[0])
    return c, circuit_qa(c, rng)
