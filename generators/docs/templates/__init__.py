"""The offline template bank: for each renderer, code writers for many figure types and styles.

``FIGURES[renderer][category]`` lists the figure types a renderer can draw for a category;
``NEEDS[figure_type]`` says what data it needs (passed to the samplers in ``data.py``);
``write(renderer, figure_type, data, rng) -> code``. Data is hard-coded in the code for the
renderers that take no data file (LaTeX, HTML, Vega-Lite, Mermaid, Graphviz), exactly as the LLM
prompts ask for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from generators.docs.templates import (
    asy,
    circuits,
    docx_t,
    graphs,
    math_tex,
    mermaid_more,
    molecules,
    mpl,
    music,
    pages,
    plotly_t,
    screens,
    svg_t,
    tikz,
    vega,
)

PALETTES = (
    ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"),
    ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"),
    ("#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#8ab17d", "#b56576", "#6d597a"),
    ("#003f5c", "#2f4b7c", "#665191", "#a05195", "#d45087", "#f95d6a", "#ff7c43", "#ffa600"),
    ("#8c510a", "#bf812d", "#dfc27d", "#80cdc1", "#35978f", "#01665e", "#543005", "#003c30"),
)
BACKGROUNDS = ("#ffffff", "#f7f3ea", "#eef3f8", "#f4f1f8", "#f2f7f0", "#fbf6ef")
FONTS = ("DejaVu Sans", "DejaVu Serif", "Latin Modern Roman", "DejaVu Sans Mono")

NEEDS: dict[str, dict[str, Any]] = {
    "bar": {"n_cols": 1}, "horizontal bar": {"n_cols": 1, "temporal": False},
    "line": {"temporal": True}, "area": {"temporal": True, "n_cols": 1},
    "pie": {"temporal": False, "n_cols": 1, "additive": True},
    "donut": {"temporal": False, "n_cols": 1, "additive": True},
    "grouped bar": {"n_cols": 2, "same_measure": True}, "stacked bar": {"n_cols": 3, "same_measure": True, "additive": True},
    "lollipop": {"n_cols": 1}, "heatmap": {"n_cols": 3, "same_measure": True},
    "funnel": {"temporal": False, "n_cols": 1, "additive": True}, "point": {"n_cols": 1},
    "css bar chart": {"n_cols": 1}, "xychart": {"n_cols": 1}, "dashboard": {"n_cols": 1},
    "scatter": {"n_cols": 2, "temporal": False, "n_rows": 6},
}

FIGURES: dict[str, dict[str, tuple[str, ...]]] = {
    "matplotlib": {"charts": ("bar", "horizontal bar", "line", "area", "pie", "donut", "grouped bar",
                              "stacked bar", "lollipop"),
                   "tables": ("striped table", "colored header table")},
    "plotly": {"charts": ("bar", "horizontal bar", "line", "pie", "donut", "grouped bar", "stacked bar", "funnel"),
               "tables": ("plotly table",)},
    "vegalite": {"charts": ("bar", "horizontal bar", "line", "area", "point", "pie", "donut", "grouped bar",
                            "stacked bar", "heatmap")},
    "latex": {"tables": ("ruled table", "grid table", "two-part table", "booktabs table", "multirow table"),
              "other": ("document", "derivation")},
    "html": {"tables": ("striped table", "card table", "minimal table"),
             "other": ("document",),
             "charts": ("css bar chart",)},
    "mermaid": {"diagrams": ("flowchart", "state", "tree", "network", "sequence", "class", "er", "mindmap", "gantt",
                             "timeline"), "charts": ("pie", "xychart")},
    "graphviz": {"diagrams": ("flowchart", "tree", "state", "network")},
    "tikz": {"charts": ("bar", "line", "scatter", "pie"), "diagrams": ("flowchart", "tree", "state", "network")},
    "asymptote": {"charts": ("bar", "pie"), "other": ("geometry",)},
    "lilypond": {"other": ("score",)},
    # renderers_py.py: Python libraries in the sandbox, SVG and web screens in Chromium
    "schemdraw": {"diagrams": ("series circuit", "parallel circuit")},
    "rdkit": {"other": ("compound card", "molecule grid")},
    "docx": {"other": ("document",), "tables": ("docx table",)},
    "svg": {"charts": ("bar", "horizontal bar", "line"), "diagrams": ("flowchart", "tree", "state")},
    "webscreen": {"other": ("app screen",), "tables": ("dashboard",)},
}
# figure types with data of their own (not a table, graph or document): (rng, domain, org) -> data
# with .title, .to_json() and .qa(rng) (the questions it asks itself)
SAMPLERS: dict[str, Callable[..., Any]] = {"geometry": asy.sample_geometry, "score": music.sample_music,
                                           "derivation": math_tex.sample_math}


def _sampled(sampler: Callable[..., Any]) -> Callable[..., tuple[Any, list[Any]]]:
    def own(rng: np.random.Generator, org: str, figure_type: str, domain: str) -> tuple[Any, list[Any]]:
        data = sampler(rng, domain, org)
        return data, list(data.qa(rng))
    return own


# The one hook for figure types whose data and QA are their own: (renderer, figure type) ->
# (rng, org, figure type, domain) -> (data with .title and .to_json(), QA pairs with evidence)
OWN_CONTENT: dict[tuple[str, str], Callable[..., tuple[Any, list[Any]]]] = {
    **{("schemdraw", f): lambda rng, org, f, d: circuits.own_content(rng, org, f) for f in FIGURES["schemdraw"]["diagrams"]},
    **{("rdkit", f): lambda rng, org, f, d: molecules.own_content(rng, org, f) for f in FIGURES["rdkit"]["other"]},
    **{("mermaid", f): mermaid_more.own_content for f in ("gantt", "timeline")},
    **{(r, f): _sampled(SAMPLERS[f]) for r, cats in FIGURES.items() for fs in cats.values() for f in fs
       if f in SAMPLERS},
}
# graph figure types drawn from another kind of sampled graph
GRAPH_KINDS = mermaid_more.GRAPH_KINDS
# (figure type, the data object the renderer's category draws, rng, style) -> code
Writer = Callable[[str, Any, np.random.Generator, dict[str, Any]], str]
WRITERS: dict[str, Writer] = {"matplotlib": mpl.write, "plotly": plotly_t.write, "vegalite": vega.write,
           "latex": math_tex.write, "html": pages.write_html, "mermaid": graphs.write_mermaid,
           "graphviz": graphs.write_dot, "tikz": tikz.write, "asymptote": asy.write,
           "lilypond": music.write, "schemdraw": circuits.write_schemdraw, "rdkit": molecules.write_rdkit,
           "docx": docx_t.write_docx, "svg": svg_t.write_svg, "webscreen": screens.write_screen}


def _mermaid(figure_type: str, data: Any, rng: np.random.Generator, st: dict[str, Any]) -> str:
    return mermaid_more.write(figure_type, data, rng, st) or graphs.write_mermaid(figure_type, data, rng, st)


WRITERS["mermaid"] = _mermaid


def style(rng: np.random.Generator) -> dict[str, Any]:
    """Shared random styling: palette, background, font."""
    return {"palette": list(PALETTES[int(rng.integers(len(PALETTES)))]),
            "bg": BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))],
            "font": FONTS[int(rng.integers(len(FONTS)))]}


def write(renderer: str, figure_type: str, data: Any, rng: np.random.Generator) -> str:
    """Code for ``renderer`` drawing ``data`` as ``figure_type``."""
    if renderer not in WRITERS:
        raise ValueError(f"no templates for renderer {renderer!r}")
    return WRITERS[renderer](figure_type, data, rng, style(rng))
