"""Plotly templates: ``generate_plot(df) -> go.Figure``; the figure is drawn in the browser pool."""

from __future__ import annotations

from typing import Any

import numpy as np

from generators.docs.data import TableData

TEMPLATES = ("plotly", "plotly_white", "ggplot2", "seaborn", "simple_white", "presentation", "plotly_dark")

HEAD = '''import plotly.graph_objects as go


def generate_plot(df):
    labels = df.iloc[:, 0].astype(str).tolist()
    cols = list(df.columns[1:])
    colors = {palette!r}
    decimals = {decimals!r}
    fig = go.Figure()
'''

TAIL = '''    fig.update_layout(title={{"text": {title!r}, "x": {tx}}}, template={template!r}, width={w}, height={h},
                      font={{"family": {font!r}, "size": {fsize}}}, margin={{"l": 70, "r": 40, "t": 80, "b": 70}},
                      paper_bgcolor={bg!r})
    return fig
'''

BODIES = {
    "bar": '''    vals = df[cols[0]].tolist()
    fig.add_trace(go.Bar(x=labels, y=vals, marker_color=colors[:len(vals)],
                         text=[f"{{v:.{{decimals[0]}}f}}" for v in vals], textposition="outside"))
    fig.update_yaxes(title_text=cols[0])
    fig.update_xaxes(title_text=df.columns[0])
''',
    "horizontal bar": '''    vals = df[cols[0]].tolist()
    fig.add_trace(go.Bar(y=labels, x=vals, orientation="h", marker_color=colors[{ci}],
                         text=[f"{{v:.{{decimals[0]}}f}}" for v in vals], textposition="auto"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text=cols[0])
''',
    "line": '''    for k, col in enumerate(cols):
        fig.add_trace(go.Scatter(x=labels, y=df[col], mode="lines+markers+text", name=col,
                                 line={{"color": colors[k], "width": 3}}, marker={{"size": 9}},
                                 text=[f"{{v:.{{decimals[k]}}f}}" for v in df[col]], textposition="top center"))
    fig.update_xaxes(title_text=df.columns[0])
''',
    "pie": '''    vals = df[cols[0]].tolist()
    fig.add_trace(go.Pie(labels=labels, values=vals, marker={{"colors": colors}}, textinfo="label+value",
                         texttemplate=[f"{{l}}<br>{{v:.{{decimals[0]}}f}}" for l, v in zip(labels, vals)], sort=False))
''',
    "donut": '''    vals = df[cols[0]].tolist()
    fig.add_trace(go.Pie(labels=labels, values=vals, hole=0.45, marker={{"colors": colors}},
                         texttemplate=[f"{{l}}<br>{{v:.{{decimals[0]}}f}}" for l, v in zip(labels, vals)], sort=False))
''',
    "grouped bar": '''    for k, col in enumerate(cols):
        fig.add_trace(go.Bar(x=labels, y=df[col], name=col, marker_color=colors[k],
                             text=[f"{{v:.{{decimals[k]}}f}}" for v in df[col]], textposition="outside"))
    fig.update_layout(barmode="group")
''',
    "stacked bar": '''    for k, col in enumerate(cols):
        fig.add_trace(go.Bar(x=labels, y=df[col], name=col, marker_color=colors[k],
                             text=[f"{{v:.{{decimals[k]}}f}}" for v in df[col]], textposition="inside",
                             insidetextanchor="middle"))
    # a label that does not fit its segment at 10 px is hidden, not shrunk to an unreadable size
    fig.update_layout(barmode="stack", uniformtext={{"minsize": 10, "mode": "hide"}})
''',
    "funnel": '''    order = df.sort_values(cols[0], ascending=False)
    fig.add_trace(go.Funnel(y=order.iloc[:, 0].astype(str), x=order[cols[0]], marker={{"color": colors[:len(order)]}},
                            texttemplate=[f"{{v:.{{decimals[0]}}f}}" for v in order[cols[0]]]))
''',
    "plotly table": '''    header = [df.columns[0], *cols]
    cells = [labels] + [[f"{{v:.{{decimals[k]}}f}}" for v in df[c]] for k, c in enumerate(cols)]
    fill = [["{bg2}" if i % 2 else "white" for i in range(len(df))]] * len(header)
    fig.add_trace(go.Table(header={{"values": [f"<b>{{h}}</b>" for h in header], "fill_color": colors[{ci}],
                                   "font": {{"color": "white", "size": 14}}, "align": "left", "height": 34}},
                           cells={{"values": cells, "fill_color": fill, "align": "left", "height": 30,
                                  "font": {{"size": 13}}}}))
''',
}


def write(figure_type: str, data: TableData, rng: np.random.Generator, st: dict[str, Any]) -> str:
    if figure_type not in BODIES:
        raise ValueError(f"no plotly template for {figure_type!r}")
    template = str(rng.choice(TEMPLATES))
    table = figure_type == "plotly table"
    bg = "#1e1e1e" if template == "plotly_dark" else st["bg"]
    params = {"palette": st["palette"], "decimals": list(data.decimals), "title": data.title,
              "tx": float(rng.choice([0.02, 0.5])), "template": "plotly_white" if table else template,
              "w": int(rng.integers(760, 1000)), "h": int(rng.integers(480, 640)) if not table else 120 + 36 * len(data.rows) + 60,
              "font": st["font"] if st["font"] != "Latin Modern Roman" else "DejaVu Sans",
              "fsize": int(rng.integers(12, 16)), "ci": int(rng.integers(0, 5)),
              "bg": "#eef3f8" if table else bg, "bg2": "#f1f4fa"}
    return HEAD.format(**params) + BODIES[figure_type].format(**params) + TAIL.format(**params)
