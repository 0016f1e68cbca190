"""Matplotlib templates: ``generate_plot(df) -> PIL.Image`` over the CSV data (the reference contract)."""

from __future__ import annotations

from typing import Any

import numpy as np

from generators.docs.data import TableData

STYLES = ("default", "ggplot", "bmh", "seaborn-v0_8-whitegrid", "fivethirtyeight", "Solarize_Light2",
          "seaborn-v0_8-pastel", "classic", "seaborn-v0_8-darkgrid", "tableau-colorblind10", "dark_background")

HEAD = '''import io

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image


def generate_plot(df):
    plt.style.use({style!r})
    plt.rcParams["font.family"] = {font!r}
    fig, ax = plt.subplots(figsize=({w}, {h}), dpi={dpi})
    labels = df.iloc[:, 0].astype(str).tolist()
    cols = list(df.columns[1:])
    colors = {palette!r}
    decimals = {decimals!r}
'''

TAIL = '''    ax.set_title({title!r}, fontsize={tsize}, fontweight="bold", pad=14)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
    buf.seek(0)
    return Image.open(buf)
'''

BODIES = {
    "bar": '''    vals = df[cols[0]].tolist()
    bars = ax.bar(labels, vals, color=colors[:len(vals)], edgecolor="black", linewidth=0.6)
    ax.bar_label(bars, labels=[f"{{v:.{{decimals[0]}}f}}" for v in vals], padding=3, fontsize=9)
    ax.set_ylabel(cols[0])
    ax.set_xlabel(df.columns[0])
    plt.setp(ax.get_xticklabels(), rotation={rot}, ha="right" if {rot} else "center")
''',
    "horizontal bar": '''    vals = df[cols[0]].tolist()
    bars = ax.barh(labels, vals, color=colors[{ci}], height=0.6)
    ax.bar_label(bars, labels=[f"{{v:.{{decimals[0]}}f}}" for v in vals], padding=4, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(cols[0])
''',
    "line": '''    for k, col in enumerate(cols):
        ax.plot(labels, df[col], marker="{marker}", linewidth=2.2, color=colors[k], label=col)
        ax.fill_between(labels, df[col], alpha=0.12, color=colors[k])
        for x, v in zip(labels, df[col]):
            ax.annotate(f"{{v:.{{decimals[k]}}f}}", (x, v), textcoords="offset points", xytext=(0, 7),
                        ha="center", fontsize=8)
    ax.set_xlabel(df.columns[0])
    if len(cols) > 1:
        ax.legend(title="Series", frameon=True)
    else:
        ax.set_ylabel(cols[0])
''',
    "area": '''    vals = df[cols[0]]
    ax.fill_between(labels, vals, color=colors[{ci}], alpha=0.55)
    ax.plot(labels, vals, color=colors[{ci}], linewidth=2)
    for x, v in zip(labels, vals):
        ax.annotate(f"{{v:.{{decimals[0]}}f}}", (x, v), textcoords="offset points", xytext=(0, 6),
                    ha="center", fontsize=8)
    ax.set_ylabel(cols[0])
    ax.set_xlabel(df.columns[0])
''',
    "pie": '''    vals = df[cols[0]].tolist()
    names = [f"{{l}} ({{v:.{{decimals[0]}}f}})" for l, v in zip(labels, vals)]
    ax.pie(vals, labels=names, colors=colors[:len(vals)], startangle={angle},
           wedgeprops={{"edgecolor": "white", "linewidth": 1.5}}, textprops={{"fontsize": 9}})
    ax.axis("equal")
''',
    "donut": '''    vals = df[cols[0]].tolist()
    names = [f"{{l}} ({{v:.{{decimals[0]}}f}})" for l, v in zip(labels, vals)]
    ax.pie(vals, labels=names, colors=colors[:len(vals)], startangle={angle},
           wedgeprops={{"width": 0.42, "edgecolor": "white"}}, textprops={{"fontsize": 9}})
    ax.text(0, 0, cols[0], ha="center", va="center", fontsize=10, fontweight="bold")
    ax.axis("equal")
''',
    "grouped bar": '''    x = np.arange(len(labels))
    width = 0.8 / len(cols)
    for k, col in enumerate(cols):
        bars = ax.bar(x + (k - (len(cols) - 1) / 2) * width, df[col], width, label=col, color=colors[k])
        ax.bar_label(bars, labels=[f"{{v:.{{decimals[k]}}f}}" for v in df[col]], padding=2, fontsize=7)
    ax.set_xticks(x, labels, rotation={rot})
    ax.legend()
''',
    "stacked bar": '''    bottom = np.zeros(len(labels))
    for k, col in enumerate(cols):
        vals = df[col].to_numpy(dtype=float)
        bars = ax.bar(labels, vals, bottom=bottom, label=col, color=colors[k], edgecolor="white")
        ax.bar_label(bars, labels=[f"{{v:.{{decimals[k]}}f}}" for v in vals], label_type="center", fontsize=7)
        bottom += vals
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    plt.setp(ax.get_xticklabels(), rotation={rot})
''',
    "lollipop": '''    vals = df[cols[0]].tolist()
    ax.hlines(labels, 0, vals, color=colors[{ci}], linewidth=2.5)
    ax.plot(vals, labels, "o", markersize=11, color=colors[({ci} + 1) % len(colors)])
    for y, v in zip(labels, vals):
        ax.annotate(f"{{v:.{{decimals[0]}}f}}", (v, y), textcoords="offset points", xytext=(10, -3), fontsize=9)
    ax.set_xlabel(cols[0])
''',
    "striped table": '''    ax.axis("off")
    header = [df.columns[0], *cols]
    cells = [[labels[i], *[f"{{df[c].iloc[i]:.{{decimals[k]}}f}}" for k, c in enumerate(cols)]] for i in range(len(df))]
    shade = [["{bg}" if i % 2 else "#ffffff"] * len(header) for i in range(len(cells))]
    tbl = ax.table(cellText=cells, colLabels=header, cellColours=shade, loc="center", cellLoc="center")
    tbl.auto_set_font_size(False)
    tbl.set_fontsize(11)
    tbl.scale(1, 1.8)
    for j in range(len(header)):
        tbl[0, j].set_facecolor(colors[{ci}])
        tbl[0, j].set_text_props(color="white", fontweight="bold")
''',
    "colored header table": '''    ax.axis("off")
    header = [df.columns[0], *cols]
    cells = [[labels[i], *[f"{{df[c].iloc[i]:.{{decimals[k]}}f}}" for k, c in enumerate(cols)]] for i in range(len(df))]
    tbl = ax.table(cellText=cells, colLabels=header, loc="center", cellLoc="left", colLoc="left",
                   colColours=[colors[{ci}]] * len(header), cellColours=[["{bg}"] * len(header)] * len(cells))
    tbl.auto_set_font_size(False)
    tbl.set_fontsize(10)
    tbl.scale(1.1, 2.0)
    for j in range(len(header)):
        tbl[0, j].set_text_props(color="white", fontweight="bold")
    fig.patch.set_facecolor("{bg}")
''',
}


def write(figure_type: str, data: TableData, rng: np.random.Generator, st: dict[str, Any]) -> str:
    if figure_type not in BODIES:
        raise ValueError(f"no matplotlib template for {figure_type!r}")
    style = str(rng.choice(STYLES))
    if figure_type.endswith("table"):
        style = "default"
    font = st["font"] if st["font"] != "Latin Modern Roman" else "DejaVu Serif"
    params = {"style": style, "font": font, "w": round(float(rng.uniform(7, 10)), 1),
              "h": round(float(rng.uniform(4.5, 6.5)), 1), "dpi": int(rng.choice([90, 100, 110])),
              "palette": st["palette"], "decimals": list(data.decimals), "title": data.title,
              "tsize": int(rng.integers(13, 18)), "rot": int(rng.choice([0, 20, 30])) if len(data.rows) > 4 else 0,
              "marker": str(rng.choice(["o", "s", "D", "^"])), "ci": int(rng.integers(0, 5)),
              "angle": int(rng.choice([0, 90, 140])), "bg": st["bg"] if st["bg"] != "#ffffff" else "#eef3f8"}
    body = BODIES[figure_type].format(**params)
    if style == "default" and not figure_type.endswith("table"):
        body += f'    ax.set_facecolor("{params["bg"]}")\n    fig.patch.set_facecolor("{params["bg"]}")\n'
    return HEAD.format(**params) + body + TAIL.format(**params)
