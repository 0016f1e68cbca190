"""``pixmo annotate agreement CAMPAIGN [--json]`` (registered by annotation_app/cli.py)."""

from __future__ import annotations

import json
from typing import Any

import typer


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def render(rep: dict[str, Any], campaign: str) -> str:
    """The agreement report as text: the summary, then one row per annotator."""
    lines = [f"campaign {campaign!r} ({rep['task_type']}): {rep['answers']} answers on {rep['items']} items, "
             f"{rep['items_with_overlap']} with two or more annotators, {rep['pairs']} pairs compared"
             + (f"; {rep['unreadable']} answers left out (malformed stored payload)" if rep["unreadable"] else "")]
    if rep["note"]:
        lines.append(rep["note"])
    for m in rep["summary"]:
        lines.append(f"  {m['label']:<24} {fmt(m['value']):>7}  (n={m['n']})  {m['help']}")
    if rep["annotators"]:
        keys = [m["key"] for m in rep["summary"] if any(m["key"] == x["key"] for a in rep["annotators"]
                                                        for x in a["metrics"])]
        labels = {m["key"]: m["label"] for m in rep["summary"]}
        widths = [max(len(labels[k]), 7) for k in keys]
        lines.append("")
        lines.append("  ".join([f"{'annotator':<16}", f"{'items':>5}", f"{'pairs':>5}",
                                *(f"{labels[k]:>{w}}" for k, w in zip(keys, widths, strict=True))]))
        for a in rep["annotators"]:
            vals = {m["key"]: m["value"] for m in a["metrics"]}
            lines.append("  ".join([f"{a['username']:<16}", f"{a['items_with_overlap']:>5}", f"{a['pairs']:>5}",
                                    *(f"{fmt(vals.get(k)):>{w}}" for k, w in zip(keys, widths, strict=True))]))
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("agreement")
    def agreement(campaign: str = typer.Argument(..., help="campaign name"),
                  as_json: bool = typer.Option(False, "--json", help="print the report as JSON (the API's shape)"),
                  db: str = typer.Option(None, "--db", help="database URL (default: PIXMO_APP_DATABASE_URL "
                                                            "or sqlite:///var/annotation.db)")) -> None:
        """Agreement between annotators who answered the same items of a campaign.

        Points: matched F1 within the gold radius, counts exact and within one, not present; captions:
        lengths, caption-transcript overlap, spread between annotators; pairwise: same choice, Fleiss'
        kappa. Definitions: docs/spec/agreement.md."""
        from sqlalchemy import select

        from annotation_app.agreement_db import campaign_agreement
        from annotation_app.cli import _engine, _settings
        from annotation_app.db import read_tx
        from annotation_app.models import Campaign

        with read_tx(_engine(_settings(db, None))) as conn:
            cid = conn.execute(select(Campaign.id).where(Campaign.name == campaign)).scalar()
            if cid is None:
                raise typer.BadParameter(f"no campaign named {campaign!r}")
            rep = campaign_agreement(conn, cid)
        typer.echo(json.dumps(rep, indent=1) if as_json else render(rep, campaign))
