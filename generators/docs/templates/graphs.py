"""Mermaid and Graphviz (DOT) templates for diagrams, plus the Mermaid pie chart."""

from __future__ import annotations

from typing import Any

import numpy as np

from generators.docs.data import GraphData, TableData, fmt

MERMAID_THEMES = ("default", "forest", "neutral", "base")
SHAPES = ("box", "ellipse", "note", "component", "hexagon", "octagon", "cylinder")


def _q(s: str) -> str:
    return s.replace('"', "'")


def _mermaid_pie(t: TableData, rng: np.random.Generator) -> str:
    theme = str(rng.choice(MERMAID_THEMES))
    lines = [f"%%{{init: {{'theme': '{theme}'}}}}%%", f"pie showData title {_q(t.title)}"]
    lines += [f'    "{_q(r[0])}" : {fmt(r[1], t.decimals[0])}' for r in t.rows]
    return "\n".join(lines) + "\n"


def write_mermaid(figure_type: str, g: Any, rng: np.random.Generator, st: dict[str, Any]) -> str:
    if figure_type == "pie":
        return _mermaid_pie(g, rng)
    assert isinstance(g, GraphData)
    theme = str(rng.choice(MERMAID_THEMES))
    ids = {n: f"n{i}" for i, n in enumerate(g.nodes)}
    head = [f'---\ntitle: "{_q(g.title)}"\n---', f"%%{{init: {{'theme': '{theme}'}}}}%%"]
    if figure_type == "state":
        lines = ["stateDiagram-v2", f"    direction {rng.choice(['LR', 'TB'])}"]
        lines += [f'    state "{_q(n)}" as {ids[n]}' for n in g.nodes]
        lines += [f"    {ids[a]} --> {ids[b]}" + (f" : {lab}" if lab else "") for a, b, lab in g.edges]
        return "\n".join(head + lines) + "\n"
    direction = str(rng.choice(["TD", "LR"])) if figure_type != "tree" and len(g.nodes) <= 5 else "TB"
    lines = [f"flowchart {direction}"]
    shape = {"flowchart": ('["', '"]'), "tree": ('(["', '"])'), "network": ('(("', '"))')}[figure_type]
    decision = {e[0] for e in g.edges if e[2]}
    for n in g.nodes:
        left, right = ('{"', '"}') if n in decision and figure_type == "flowchart" else shape
        lines.append(f"    {ids[n]}{left}{_q(n)}{right}")
    arrow = "---" if figure_type == "network" else "-->"
    for a, b, lab in g.edges:
        lines.append(f"    {ids[a]} {arrow}" + (f"|{lab}|" if lab else "") + f" {ids[b]}")
    fill = st["palette"][int(rng.integers(0, 5))]
    lines.append(f"    classDef main fill:{fill},color:#ffffff,stroke:#333333,stroke-width:2px")
    lines.append(f"    class {','.join(ids.values())} main")
    return "\n".join(head + lines) + "\n"


def write_dot(figure_type: str, g: GraphData, rng: np.random.Generator, st: dict[str, Any]) -> str:
    undirected = figure_type == "network"
    kw, arrow = ("graph", "--") if undirected else ("digraph", "->")
    pal = st["palette"]
    fill = pal[int(rng.integers(0, 5))]
    shape = str(rng.choice(SHAPES)) if figure_type != "state" else "ellipse"
    rankdir = "TB" if figure_type == "tree" or len(g.nodes) > 5 else str(rng.choice(["TB", "LR"]))
    font = st["font"] if st["font"] != "Latin Modern Roman" else "DejaVu Serif"
    lines = [f"{kw} G {{",
             f'    graph [label="{_q(g.title)}", labelloc=t, fontsize={int(rng.integers(18, 24))}, '
             f'fontname="{font}", bgcolor="{st["bg"]}", rankdir={rankdir}, pad=0.4, nodesep=0.5];',
             f'    node [shape={shape}, style="filled{",rounded" if shape == "box" else ""}", fillcolor="{fill}", '
             f'fontcolor="white", fontname="{font}", penwidth=1.5, margin="0.2,0.1"];',
             f'    edge [color="{pal[5]}", penwidth=1.6, fontname="{font}", fontsize=11];']
    decision = {e[0] for e in g.edges if e[2]} if figure_type == "flowchart" else set()
    for i, n in enumerate(g.nodes):
        extra = f', shape=diamond, fillcolor="{pal[1]}"' if n in decision else ""
        if figure_type == "tree" and i == 0:
            extra = f', fillcolor="{pal[3]}", fontsize=16'
        lines.append(f'    n{i} [label="{_q(n)}"{extra}];')
    idx = {n: i for i, n in enumerate(g.nodes)}
    for a, b, lab in g.edges:
        attr = f' [label="{_q(lab)}"]' if lab else ""
        lines.append(f"    n{idx[a]} {arrow} n{idx[b]}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"
