"""Vega-Lite templates: a complete JSON spec with the data inline (no URLs)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from generators.docs.data import TableData

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"


def _long(t: TableData) -> list[dict[str, Any]]:
    """One row per cell; ``text`` is the cell printed with its own column's decimals (a format on
    ``value`` would print every series with one column's decimals)."""
    return [{t.label: r[0], "series": t.columns[j], "value": r[j + 1], "text": t.cell(i, j)}
            for i, r in enumerate(t.rows) for j in range(len(t.columns))]


def _wide(t: TableData) -> list[dict[str, Any]]:
    return [{t.label: r[0], **{t.columns[j]: r[j + 1] for j in range(len(t.columns))}} for r in t.rows]


def _text_layer(x: dict[str, Any], y: dict[str, Any], fmt: str, dy: int = -8, **enc: Any) -> dict[str, Any]:
    return {"mark": {"type": "text", "dy": dy, "fontSize": 11},
            "encoding": {"x": x, "y": y, "text": {"field": y.get("field", "value"), "format": fmt}, **enc}}


def write(figure_type: str, t: TableData, rng: np.random.Generator, st: dict[str, Any]) -> str:
    lab, col = t.label, t.columns[0]
    fmt = f".{t.decimals[0]}f"
    order = [r[0] for r in t.rows]
    xnom = {"field": lab, "type": "ordinal" if t.temporal else "nominal", "sort": order,
            "axis": {"labelAngle": int(rng.choice([0, -30, -45])) if len(t.rows) > 4 else 0}}
    yq = {"field": col, "type": "quantitative", "title": t.header(0)}
    color = st["palette"][int(rng.integers(0, 5))]
    spec: dict[str, Any] = {"$schema": SCHEMA, "title": {"text": t.title, "fontSize": int(rng.integers(14, 19))},
                            "width": int(rng.integers(380, 560)), "height": int(rng.integers(260, 360)),
                            "background": st["bg"] if figure_type != "point" or st["bg"] != "#ffffff" else "#f7f3ea", "data": {"values": _wide(t)},
                            "config": {"font": st["font"], "view": {"stroke": "transparent"}}}
    if figure_type == "bar":
        spec["layer"] = [{"mark": {"type": "bar", "color": color, "cornerRadiusEnd": 3}, "encoding": {"x": xnom, "y": yq}},
                         _text_layer(xnom, yq, fmt)]
    elif figure_type in ("horizontal bar", "point"):
        ynom = {**xnom, "axis": {}}
        mark = {"type": "bar", "color": color} if figure_type == "horizontal bar" else \
               {"type": "point", "filled": True, "size": 140, "color": color}
        rule = [{"mark": {"type": "rule", "color": color, "strokeWidth": 3}, "encoding": {"y": ynom, "x": yq}}]
        spec["layer"] = [*(rule if figure_type == "point" else []), {"mark": mark, "encoding": {"y": ynom, "x": yq}},
                         {"mark": {"type": "text", "dx": 18, "fontSize": 11},
                          "encoding": {"y": ynom, "x": yq, "text": {"field": col, "format": fmt}}}]
    elif figure_type in ("line", "area") and len(t.columns) == 1:
        mark = {"type": figure_type, "color": color, "point": True}
        if figure_type == "area":
            mark = {"type": "area", "color": color, "opacity": 0.6, "line": True, "point": True}
        spec["layer"] = [{"mark": mark, "encoding": {"x": xnom, "y": yq}}, _text_layer(xnom, yq, fmt, dy=-10)]
    elif figure_type in ("line", "grouped bar", "stacked bar", "heatmap"):
        spec["data"] = {"values": _long(t)}
        vq = {"field": "value", "type": "quantitative", "title": t.units[0] or "Value"}
        scol = {"field": "series", "type": "nominal", "title": "Series",
                "scale": {"range": st["palette"][:len(t.columns)]}}
        if figure_type == "line":
            spec["layer"] = [{"mark": {"type": "line", "point": True, "strokeWidth": 3},
                              "encoding": {"x": xnom, "y": vq, "color": scol}},
                             {"mark": {"type": "text", "dy": -10, "fontSize": 11},
                              "encoding": {"x": xnom, "y": vq, "text": {"field": "text"}, "color": scol}}]
        elif figure_type == "heatmap":
            spec["layer"] = [{"mark": "rect", "encoding": {"x": xnom, "y": {"field": "series", "type": "nominal"},
                                                            "color": {"field": "value", "type": "quantitative",
                                                                      "scale": {"scheme": str(rng.choice(["blues", "viridis", "oranges", "tealblues"]))}}}},
                             {"mark": {"type": "text", "fontSize": 11},
                              "encoding": {"x": xnom, "y": {"field": "series", "type": "nominal"},
                                           "text": {"field": "text"}}}]
        else:
            enc: dict[str, Any] = {"x": xnom, "y": vq, "color": scol}
            if figure_type == "grouped bar":
                enc["xOffset"] = {"field": "series"}
            spec["mark"] = {"type": "bar"}
            spec["encoding"] = enc
    elif figure_type in ("pie", "donut"):
        theta = {"field": col, "type": "quantitative", "stack": True}
        colr = {"field": lab, "type": "nominal", "sort": order, "scale": {"range": st["palette"]}}
        arc = {"type": "arc", "outerRadius": 130, "stroke": "white"}
        if figure_type == "donut":
            arc["innerRadius"] = 60
        spec["layer"] = [{"mark": arc, "encoding": {"theta": theta, "color": colr, "order": {"field": col}}},
                         {"mark": {"type": "text", "radius": 160, "fontSize": 11},
                          "encoding": {"theta": theta, "order": {"field": col},
                                       "text": {"field": col, "format": fmt}}}]
        spec["view"] = {"stroke": None}
    else:
        raise ValueError(f"no Vega-Lite template for {figure_type!r}")
    return json.dumps(spec, indent=2, ensure_ascii=False)
