"""The Elo report: one self-contained HTML page (plots embedded as data-URI PNGs) with the ratings
and their bootstrap intervals, the win-rate matrix and a per-category breakdown.

``pixmo eval elo VOTES --out report.html`` (``pipelines/eval_cli.py``) calls ``write_report``.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from pixmo.elo import EloConfig, EloFit, rate, read_votes


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def ratings_plot(fit: EloFit, title: str = "Elo ratings") -> str:
    """Horizontal dot plot: rating with its interval, best model on top."""
    import matplotlib.pyplot as plt

    order = fit.order()[::-1]
    y = np.arange(len(order))
    r = fit.ratings[order]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(order) + 1.4))
    ax.errorbar(r, y, xerr=[r - fit.lower[order], fit.upper[order] - r], fmt="o", color="#2456d6", ecolor="#8aa4e8",
                elinewidth=3, capsize=4)
    ax.set_yticks(y, [fit.models[i] for i in order])
    ax.set_xlabel(f"Elo rating ({round(100 * fit.ci)}% bootstrap interval)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def winrate_plot(fit: EloFit) -> str:
    """Heatmap of the empirical win rate of the row model over the column model (ties as half)."""
    import matplotlib.pyplot as plt

    order = fit.order()
    wr = fit.win_rate[np.ix_(order, order)]
    names = [fit.models[i] for i in order]
    k = len(names)
    fig, ax = plt.subplots(figsize=(0.8 * k + 2.5, 0.7 * k + 1.8))
    im = ax.imshow(np.ma.masked_invalid(wr), cmap="RdBu", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if not np.isnan(wr[i, j]):
                ax.text(j, i, f"{wr[i, j]:.2f}", ha="center", va="center", fontsize=9,
                        color="white" if abs(wr[i, j] - 0.5) > 0.3 else "black")
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("opponent")
    ax.set_ylabel("model")
    ax.set_title("Win rate of row over column (ties count half)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _png(fig)


def category_plot(fit: EloFit) -> str:
    """Ratings per category (dots with intervals), models in overall order."""
    import matplotlib.pyplot as plt

    order = fit.order()
    cats = list(fit.categories)
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(order) * max(1, len(cats)) ** 0.5 + 1.6))
    width = 0.7 / max(1, len(cats))
    for c, name in enumerate(cats):
        sub = fit.categories[name]
        labelled = False
        for row, i in enumerate(order[::-1]):
            m = fit.models[i]
            if m not in sub.models:
                continue
            j = sub.models.index(m)
            y = row - 0.35 + width * (c + 0.5)
            ax.errorbar(sub.ratings[j], y, xerr=[[sub.ratings[j] - sub.lower[j]], [sub.upper[j] - sub.ratings[j]]],
                        fmt="o", color=f"C{c}", capsize=3, label=None if labelled else name)
            labelled = True
    ax.set_yticks(range(len(order)), [fit.models[i] for i in order[::-1]])
    ax.legend(title="category", loc="best", fontsize=8)
    ax.set_xlabel("Elo rating within the category")
    ax.set_title("Per-category ratings")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _table(fit: EloFit) -> str:
    rows = "".join(f"<tr><td>{r['rank']}</td><td>{html.escape(r['model'])}</td><td>{r['rating']:.0f}</td>"
                   f"<td>{r['lower']:.0f} – {r['upper']:.0f}</td><td>{r['votes']}</td></tr>" for r in fit.table())
    return ("<table class='ratings'><tr><th>#</th><th>model</th><th>Elo</th><th>interval</th><th>votes</th></tr>"
            f"{rows}</table>")


CSS = """body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1000px;color:#1d2330;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border-bottom:1px solid #dde;padding:.3rem .7rem;
text-align:left}img{max-width:100%;display:block;margin:.5rem 0 1.5rem}.muted{color:#667}h2{margin-top:2rem}"""


def render_html(fit: EloFit, cfg: EloConfig, title: str = "Pairwise preference evaluation") -> str:
    t = html.escape(title)
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{t}</title>",
             f"<style>{CSS}</style></head><body><h1>{t}</h1>",
             f"<p>{fit.n_votes} votes, {len(fit.models)} models. Bradley-Terry with ties (Davidson), maximum "
             f"likelihood; Elo scale 400/ln 10 per unit of log-strength, "
             + (f"anchor {html.escape(cfg.anchor)} = {cfg.anchor_rating:g}" if cfg.anchor
                else f"mean rating {cfg.anchor_rating:g}")
             + f"; {round(100 * fit.ci)}% percentile intervals from {cfg.bootstrap} bootstrap resamples of the votes; "
             f"'both bad' counted as {'a tie' if cfg.both_bad == 'tie' else 'nothing (dropped)'}; "
             f"fitted tie parameter ν = {fit.tie_nu:.3f}.</p>",
             "<h2>Ratings</h2>", _table(fit),
             f"<img id='plot-ratings' alt='Elo ratings with intervals' src='{ratings_plot(fit)}'>",
             "<h2>Win rates</h2>", f"<img id='plot-winrate' alt='win-rate matrix' src='{winrate_plot(fit)}'>"]
    if fit.categories:
        parts += ["<h2>Per category</h2>", f"<img id='plot-categories' alt='per-category ratings' "
                  f"src='{category_plot(fit)}'>"]
        for name, sub in fit.categories.items():
            parts += [f"<h3>{html.escape(name)} <span class='muted'>({sub.n_votes} votes, "
                      f"{cfg.category_bootstrap} resamples)</span></h3>", _table(sub)]
    parts.append("</body></html>")
    return "".join(parts)


def write_report(votes_path: str | Path, out: str | Path, cfg: EloConfig | None = None,
                 json_out: str | Path | None = None, title: str = "Pairwise preference evaluation") -> EloFit:
    """Rate the votes of a JSONL file and write the HTML report (and the ratings as JSON)."""
    import matplotlib

    matplotlib.use("Agg")
    cfg = cfg or EloConfig()
    fit = rate(read_votes(votes_path), cfg)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(fit, cfg, title), encoding="utf-8")
    if json_out:
        Path(json_out).write_text(json.dumps(fit.to_dict(), indent=1), encoding="utf-8")
    return fit
