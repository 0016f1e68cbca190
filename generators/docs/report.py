"""``pixmo gen docs --report``: how diverse a run's documents are, read back from its shards."""

from __future__ import annotations

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
