"""A self-contained HTML dataset report: every plot and contact sheet is an embedded data URI.

``build_report`` takes shard directories (and optionally a training curve, metrics and notes)
and writes one HTML file that opens anywhere without a server.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import Progress

from pipelines.figures import (
    collect_stats,
    contact_sheet,
    dataset_summary,
    plot_curve,
    plot_dataset,
    plot_overview,
)
from pixmo.shards import MANIFEST

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #bbb}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f0f0f0}img{max-width:100%;display:block;margin:.5em 0}.note{color:#666;font-size:13px}
.skip{color:#a60}
"""


@dataclass
class ReportInputs:
    datasets: list[tuple[str, str]]  # (name, shard dir)
    title: str = "PixMo dataset report"
    curve: dict[str, Any] | None = None  # {"steps": [...], "series": {"loss": [...]}}
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)  # (title, raw html)


def find_shard_dirs(root: str | Path) -> list[tuple[str, str]]:
    """Every directory with a manifest.json under ``root`` (itself included), named by relative path;
    hidden folders (a writer's ``.NAME.staging``) are skipped."""
    root = Path(root)
    if (root / MANIFEST).exists():
        return [(root.name or str(root), str(root))]
    found = sorted(p.parent for p in root.rglob(MANIFEST))
    # hidden folders are a writer's staging or old copies (pixmo.shardset), never published sets
    found = [p for p in found if not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return [(str(p.relative_to(root)), str(p)) for p in found]


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def _img(data: bytes, alt: str, cls: str, mime: str = "image/png") -> str:
    return f'<img class="{cls}" alt="{html.escape(alt)}" src="{data_uri(data, mime)}">'


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p class='note'>(empty)</p>"
    cols = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return str(v)


def _dataset_section(name: str, path: str) -> tuple[str, Any]:
    st, kept = collect_stats(name, path)
    summary = dataset_summary(path)
    facts = {k: v for k, v in summary.items() if k not in ("source", "annotations", "plots")
             and v not in ({}, []) and not (isinstance(v, dict) and v.get("n") == 0)}
    parts = [f"<h3>{html.escape(name)}</h3><p class='note'>{html.escape(path)}</p>",
             _table([{"subset": k, "annotations": v} for k, v in sorted(st.annotations.items())]),
             _table([{"statistic (pixmo stats)": k, "value": v} for k, v in facts.items()]),
             _img(plot_dataset(st), f"statistics of {name}", "plot")]
    if kept:
        parts.append(_img(contact_sheet(kept), f"contact sheet of {name}", "sheet", "image/jpeg"))
    return "\n".join(parts), st


def build_report(inputs: ReportInputs, out: str | Path, *, progress: bool = True) -> Path:
    """Write the report; returns its path."""
    out = Path(out)
    body = [f"<h1>{html.escape(inputs.title)}</h1>"]
    body += [f"<p class='skip'>{html.escape(n)}</p>" for n in inputs.notes]
    sections, stats = [], []
    with Progress(disable=not progress, transient=True) as bar:
        tid = bar.add_task("report: datasets", total=len(inputs.datasets))
        for name, path in inputs.datasets:
            sec, st = _dataset_section(name, path)
            sections.append(sec)
            stats.append(st)
            bar.advance(tid)
    if stats:
        body.append("<h2>Datasets</h2>")
        body.append(_table([s.summary() for s in stats]))
        body.append(_img(plot_overview(stats), "annotations per subset", "plot"))
        body.append("<h2>Per-dataset statistics and samples</h2>")
        body += sections
    if inputs.curve and inputs.curve.get("steps"):
        body.append("<h2>Training</h2>")
        body.append(_img(plot_curve(inputs.curve["steps"], inputs.curve["series"]), "training curve", "plot"))
    if inputs.metrics:
        body.append("<h2>Metrics</h2>")
        body.append(_table([{"metric": k, "value": v} for k, v in inputs.metrics.items()]))
    for title, raw in inputs.sections:
        body.append(f"<h2>{html.escape(title)}</h2>{raw}")
    body.append(f"<script type='application/json' id='report-data'>{json.dumps(_data(stats, inputs))}</script>")
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(inputs.title)}</title>"
           f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(doc)
    tmp.replace(out)
    return out


def _data(stats: list[Any], inputs: ReportInputs) -> dict[str, Any]:
    """Machine-readable summary embedded in the page (tests and tools read it)."""
    return {"datasets": [s.summary() for s in stats], "metrics": inputs.metrics,
            "has_curve": bool(inputs.curve and inputs.curve.get("steps")),
            "plots": len(stats) * 1 + (1 if stats else 0) + (1 if inputs.curve and inputs.curve.get("steps") else 0),
            "sheets": sum(1 for s in stats if s.samples)}
