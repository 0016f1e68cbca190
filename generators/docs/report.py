"""``pixmo gen docs --report``: how diverse a run's documents are, read back from its shards, and the
run report (``write_run_report``): per renderer a table row and a contact sheet, the LLM cost table,
the near-duplicate and persona counts, as ``report.json``, ``report.md`` and ``sheets/*.png``."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

QA_TYPES = (  # first match wins
    ("multiple choice", re.compile(r"\n")),
    ("title", re.compile(r"^What is the title")),
    ("summary", re.compile(r"^Summari[sz]e")),
    ("count", re.compile(r"^How many")),
    ("difference", re.compile(r"^What is the difference")),
    ("extreme", re.compile(r"^Which .* (highest|lowest|most)")),
    ("comparison", re.compile(r"^Which is higher|^For .*, which")),
    ("yes/no", re.compile(r"^Is ")),
    ("kind", re.compile(r"^What kind")),
    ("lookup", re.compile(r"^(What|Who)")),
)


def qa_type(question: str, answer: str) -> str:
    if answer == "Cannot be determined":
        return "unanswerable"
    return next((name for name, pat in QA_TYPES if pat.search(question)), "other")


def diversity(samples: Iterable[Any]) -> dict[str, Any]:
    """Distinct titles per document, and counts of categories, renderers, figure types, document
    kinds, personas and QA types."""
    counters: list[Counter[str]] = [Counter() for _ in range(7)]
    titles, cats, renderers, figures, kinds, personas, qa = counters
    n = 0
    for s in samples:
        for ann in s.annotations:
            n += 1
            meta = ann.meta
            titles[meta.get("topic", "")] += 1
            cat = ann.subset.removeprefix("pixmo-docs-")
            cats[cat] += 1
            renderers[meta.get("renderer", "")] += 1
            figures[f"{meta.get('renderer', '')}/{meta.get('figure_type', '')}"] += 1
            personas[meta.get("persona", "")] += 1
            if cat == "other":
                kinds[meta.get("figure_type", "")] += 1
            for q, a in zip(ann.record.questions.question, ann.record.questions.answer, strict=True):
                qa[qa_type(q, a)] += 1
    return {"documents": n, "distinct_titles": len(titles),
            "distinct_title_share": round(len(titles) / n, 4) if n else 0.0,
            "categories": dict(cats), "renderers": dict(renderers), "figure_types": len(figures),
            "document_kinds": dict(kinds), "personas": len(personas), "qa_types": dict(qa),
            "qa_pairs": sum(qa.values())}


# -- the run report: a table and a contact sheet per renderer, the costs, the dedup counts ----------
SHEET_PAGES = 12  # thumbnails per renderer sheet


def read_pages(shards: Any, renderers: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per renderer (every one named, in order): pages kept in the shards, their QA pairs and the
    first ``SHEET_PAGES`` thumbnails (label, PNG)."""
    out: dict[str, dict[str, Any]] = {r: {"kept": 0, "qa_pairs": 0, "pages": []} for r in renderers}
    for s in shards:
        for ann in s.annotations:
            r = out.setdefault(ann.meta.get("renderer", "?"), {"kept": 0, "qa_pairs": 0, "pages": []})
            r["kept"] += 1
            r["qa_pairs"] += len(ann.record.questions.question)
            if len(r["pages"]) < SHEET_PAGES:
                r["pages"].append((str(ann.meta.get("figure_type", "")), s.image))
    return out


def renderer_rows(pages: dict[str, dict[str, Any]], stats: dict[str, Any]) -> list[dict[str, Any]]:
    """documents planned, kept (in the shards), rejected, near-duplicates dropped, mean render
    seconds per document and QA pairs kept, per renderer."""
    per = stats.get("renderers", {})
    dropped = stats.get("dedup_dropped", {}).get("by_renderer", {})
    rows = []
    for name, p in pages.items():
        st = per.get(name, {})
        n = int(st.get("documents", 0))
        rows.append({"renderer": name, "documents": n, "kept": p["kept"], "rejected": int(st.get("rejected", 0)),
                     "near_duplicates": int(dropped.get(name, 0)),
                     "mean_render_s": round(st.get("seconds", 0.0) / n, 3) if n else 0.0, "qa_pairs": p["qa_pairs"]})
    return rows


def _md_table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    keys = list(rows[0])
    return ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
            *("| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows)]


def write_run_report(dest: Any, shards_dir: Any, stats: dict[str, Any], renderers: Iterable[str], mode: str,
                     prices: Any) -> dict[str, Any]:
    """``dest/report.json``, ``dest/report.md`` and ``dest/sheets/<renderer>.png``; returns the JSON."""
    from pathlib import Path

    from generators.docs.costs import cost_table
    from generators.docs.sheet import renderer_sheet
    from pixmo.shards import iter_samples

    dest = Path(dest)
    pages = read_pages(iter_samples(shards_dir), renderers)
    rows = renderer_rows(pages, stats)
    kept = sum(r["kept"] for r in rows)
    dd = stats.get("dedup_dropped", {})
    report = {"mode": mode, "documents": stats.get("documents", 0) + stats.get("rejected", 0), "kept": kept,
              "rejected": stats.get("rejected", 0),
              "dedup_dropped": {"image": int(dd.get("image", 0)), "text": int(dd.get("text", 0))},
              "personas": {"distinct": len(stats.get("personas_used", {})),
                           "reused_from_ledger": int(stats.get("personas_reused", 0))},
              "difficulty": stats.get("difficulty", {}), "renderers": rows,
              "cost": cost_table(mode, stats.get("llm_stages", {}), kept, prices)}
    for r in rows:
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in r["renderer"])
        r["sheet"] = f"sheets/{name}.png"
        renderer_sheet(r["renderer"], pages[r["renderer"]]["pages"], dest / r["sheet"])
    (dest / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (dest / "report.md").write_text("\n".join(_markdown(report)) + "\n")
    return report


def _markdown(rep: dict[str, Any]) -> list[str]:
    cost = rep["cost"]
    lines = ["# Docs run report", "",
             f"Mode {rep['mode']}: {rep['documents']} documents planned, {rep['kept']} kept, {rep['rejected']} "
             f"rejected, near-duplicates dropped: {rep['dedup_dropped']['image']} by image, "
             f"{rep['dedup_dropped']['text']} by text. Personas: {rep['personas']['distinct']} distinct, "
             f"{rep['personas']['reused_from_ledger']} documents reused a persona the ledger lists.", "",
             "## Renderers", "", *_md_table(rep["renderers"]), "", "## LLM cost", ""]
    if cost.get("note"):
        lines.append(cost["note"] + ".")
    else:
        lines += [*_md_table(cost["rows"]), "",
                  f"Total {cost['total_usd']:.4f} USD ({cost['prompt_tokens']} tokens in, "
                  f"{cost['completion_tokens']} out), {cost['usd_per_kept_image']:.6f} USD per kept image."]
        if cost["unpriced_models"]:
            lines.append(f"Not in the price table (counted as 0): {', '.join(cost['unpriced_models'])}.")
    lines += ["", "## Contact sheets", ""]
    lines += [f"![{r['renderer']}]({r['sheet']})" for r in rep["renderers"]]
    return lines
