"""Synthetic pointing from SVG pages and web screens: two more page families for ``pixmo gen docs-points``.

- ``svg``: a hand-written SVG, shown inline in Chromium: a board of coloured shapes (circles, squares,
  triangles, stars, hexagons; some labelled) or a bar chart (``templates/svg_t.py``). Questions: one shape
  by colour and kind or by its label, every shape of a kind or a colour, one bar or every bar, and
  shapes, labels or bars that are not there.
- ``screen``: a web app screen (``templates/screens.py``: detail screen, form or landing page). Questions:
  a button, a navigation link, every button, every link, every text field, a row or card, and buttons or
  links that are not there.

Every element a question can name carries ``data-pt``; the browser reports its box (``points.py``).
"""

from __future__ import annotations

import numpy as np

from generators.docs.bank import DOMAINS
from generators.docs.data import sample_doc, sample_table
from generators.docs.points import Question, points_sample, render_marked
from generators.docs.renderers import RenderContext
from generators.docs.renderers_py import svg_page
from generators.docs.templates import screens, style, svg_t
from generators.docs.titles import org_name
from pixmo.shards import Sample

COLORS = {"red": "#d62728", "blue": "#1f77b4", "green": "#2ca02c", "orange": "#ff7f0e", "purple": "#9467bd"}
KINDS = ("circle", "square", "triangle", "star", "hexagon")
WORDS = ("Alpha", "Bravo", "Cedar", "Delta", "Ember", "Fjord", "Gale", "Harbor", "Iris", "Juniper", "Kite", "Lotus",
         "Maple", "Nova", "Orchid", "Pine", "Quartz", "Raven")


def _shape(kind: str, cx: float, cy: float, r: float, fill: str, key: str) -> str:
    attrs = f'data-pt="{key}" fill="{fill}" stroke="#333" stroke-width="1.5"'
    if kind == "circle":
        return f'<circle {attrs} cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}"/>'
    if kind == "square":
        return f'<rect {attrs} x="{cx - r:.1f}" y="{cy - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}"/>'
    if kind == "triangle":
        pts = [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    elif kind == "star":
        pts = [(cx + (r if i % 2 == 0 else r * 0.5) * np.sin(i * np.pi / 5),
                cy - (r if i % 2 == 0 else r * 0.5) * np.cos(i * np.pi / 5)) for i in range(10)]
    else:
        pts = [(cx + r * np.cos(i * np.pi / 3), cy + r * np.sin(i * np.pi / 3)) for i in range(6)]
    return f'<polygon {attrs} points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}"/>'


def shape_board(rng: np.random.Generator) -> tuple[str, list[tuple[str, str, str]]]:
    """An SVG board of shapes on a grid; returns the SVG and (kind, colour, label) per shape ("" unlabelled)."""
    cols, rows = int(rng.integers(3, 6)), int(rng.integers(2, 4))
    n = int(rng.integers(max(4, cols * rows - 4), cols * rows + 1))
    cells = sorted(int(c) for c in rng.choice(cols * rows, size=n, replace=False))
    kinds = [str(k) for k in rng.choice(KINDS, size=int(rng.integers(2, 5)), replace=False)]
    colors = [str(c) for c in rng.choice(list(COLORS), size=int(rng.integers(2, 5)), replace=False)]
    words = [str(w) for w in rng.permutation(WORDS)]
    cell, r = int(rng.integers(120, 160)), float(rng.uniform(30, 42))
    w, h = cols * cell + 40, rows * cell + 90
    body = [svg_t.text(w / 2, 40, "Shape board", 22, weight="bold")]
    shapes = []
    for i, c in enumerate(cells):
        cx, cy = 20 + (c % cols + 0.5) * cell, 70 + (c // cols + 0.5) * cell - 10
        kind, color = str(rng.choice(kinds)), str(rng.choice(colors))
        label = words[i] if rng.random() < 0.6 else ""
        body.append(_shape(kind, cx, cy, r, COLORS[color], f"shape:{i}"))
        if label:
            body.append(svg_t.text(cx, cy + r + 22, label, 15, extra=f' data-pt="label:{label}"'))
        shapes.append((kind, color, label))
    bg = str(rng.choice(["#ffffff", "#f7f3ea", "#eef3f8"]))
    return svg_t.svg(w, h, body, bg, "DejaVu Sans"), shapes


def board_questions(shapes: list[tuple[str, str, str]], rng: np.random.Generator) -> list[Question]:
    keys = [f"shape:{i}" for i in range(len(shapes))]
    qs = []
    pairs = [(k, c) for k, c, _ in shapes]
    unique = [p for p in dict.fromkeys(pairs) if pairs.count(p) == 1]
    if unique:
        kind, color = unique[int(rng.integers(len(unique)))]
        qs.append(Question(f"{color} {kind}", (keys[pairs.index((kind, color))],), "pointing"))
    kind = str(rng.choice(KINDS))  # may be on the board or not (then zero points)
    qs.append(Question(kind, tuple(k for k, s in zip(keys, shapes, strict=True) if s[0] == kind), "counting"))
    color = str(rng.choice(list(COLORS)))
    qs.append(Question(f"{color} shape", tuple(k for k, s in zip(keys, shapes, strict=True) if s[1] == color),
                       "counting"))
    labelled = [(k, s[2]) for k, s in zip(keys, shapes, strict=True) if s[2]]
    if labelled:
        k, label = labelled[int(rng.integers(len(labelled)))]
        qs.append(Question(f"shape labelled {label}", (k,), "pointing"))
    absent_kind = [x for x in KINDS if x not in {s[0] for s in shapes}]
    qs.append(Question(str(rng.choice(absent_kind)), (), "counting"))
    absent_word = [x for x in WORDS if x not in {s[2] for s in shapes}]
    qs.append(Question(f"shape labelled {rng.choice(absent_word)}", (), "pointing"))
    return qs


def bar_chart(rng: np.random.Generator) -> tuple[str, list[Question]]:
    d = DOMAINS[int(rng.integers(len(DOMAINS)))]
    t = sample_table(rng, d, "", temporal=False, n_cols=1)
    t.title = f"{t.columns[0]} by {t.label.lower()}"
    code = svg_t.write_svg(str(rng.choice(["bar", "horizontal bar"])), t, rng, style(rng))
    keys = [f"bar:{lab}" for lab in t.labels]
    absent = next(str(e) for e in d.entities if e not in t.labels)
    i = int(rng.integers(len(keys)))
    qs = [Question(f"bar for {t.labels[i]}", (keys[i],), "pointing"),
          Question("bar", tuple(keys), "counting"),
          Question(f"tallest bar ({t.columns[0]})", (keys[int(np.argmax(t.column(0)))],), "pointing"),
          Question(f"bar for {absent}", (), "pointing")]
    return code, qs


def svg_sample(index: int, seed: int, ctx: RenderContext) -> Sample:
    rng = np.random.default_rng([seed, index, 8])
    if index % 2 == 0:
        code, shapes = shape_board(rng)
        qs = board_questions(shapes, rng)
    else:
        code, qs = bar_chart(rng)
    page, w, h = svg_page(code)
    png, boxes = render_marked(page, w, h, ctx)
    return points_sample(png, boxes, qs, f"synthetic://docs-points-svg/{seed}/{index:07d}", index=index, seed=seed,
                         svg=code)


def screen_sample(index: int, seed: int, ctx: RenderContext) -> Sample:
    rng = np.random.default_rng([seed, index, 9])
    d = DOMAINS[int(rng.integers(len(DOMAINS)))]
    org = org_name(rng, d)
    doc = sample_doc(rng, d, "", org=org)
    doc.title = doc.items.title = f"{org} - {doc.kind.title()}"
    layout = str(rng.choice(["app screen", "form page", "landing page"]))
    nav, buttons = screens.chrome(rng)
    page = screens.page(layout, doc, org, nav, buttons, style(rng), rng)
    width = int(rng.choice([1024, 1280]))
    png, boxes = render_marked(page, width, 700, ctx)
    item = doc.items.labels[int(rng.integers(len(doc.items.rows)))]
    fields = tuple(f"field:{k}" for k in doc.fields) if layout == "form page" else ()
    absent_button = next(str(b) for b in rng.permutation(screens.BUTTONS + ("Delete", "Share")) if b not in buttons)
    absent_nav = next(str(n) for n in rng.permutation(screens.NAV) if n not in nav)
    link = str(rng.choice(nav))
    b = str(rng.choice(buttons))
    qs = [Question(f"{b} button", (f"button:{b}",), "pointing"),
          Question(f"{link} link in the navigation bar", (f"nav:{link}",), "pointing"),
          Question("button", tuple(f"button:{x}" for x in buttons), "counting"),
          Question("navigation link", tuple(f"nav:{x}" for x in nav), "counting"),
          Question("text field", fields, "counting"),
          Question(f"card for {item}" if layout == "landing page" else f"row labelled {item}",
                   (f"card:{item}" if layout == "landing page" else f"row:{item}",), "pointing"),
          Question(f"{absent_button} button", (), "pointing"),
          Question(f"{absent_nav} link in the navigation bar", (), "pointing")]
    return points_sample(png, boxes, qs, f"synthetic://docs-points-screen/{seed}/{index:07d}", index=index,
                         seed=seed, html=page)


FAMILIES = {"svg": svg_sample, "screen": screen_sample}
