"""The difficulty mix (``--difficulty-mix easy=0.3,medium=0.5,hard=0.2``).

Each document draws a level from the mix with its own RNG stream (seed, index, 5), so the mix does
not shift any other draw. A level sets the size of the data (table rows, document items, diagram
nodes) and which question types are kept (types as ``report.qa_type`` names them); in LLM mode it
adds a sentence to the data and QA prompts. ``medium`` is the pipeline as it was: no size override,
every question type. Without a mix no level is drawn or recorded, and the documents are the ones
the pipeline made before the mix existed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Level:
    name: str
    rows: tuple[int, int] | None  # table rows / document items, inclusive; None: the sampler's own range
    nodes: tuple[int, int] | None  # diagram nodes, inclusive (clamped to what the domain has)
    drop_qa: tuple[str, ...]  # question types left out
    data_hint: str  # LLM mode: appended to the data prompt
    qa_hint: str  # LLM mode: appended to the QA prompt


LEVELS: dict[str, Level] = {lv.name: lv for lv in (
    Level("easy", (3, 4), (4, 5), ("difference", "comparison", "multiple choice"),
          "Keep it small: 3 or 4 rows or items and a single series.",
          "Ask direct questions only: read one value or label; no arithmetic, no comparisons."),
    Level("medium", None, None, (), "", ""),
    Level("hard", (7, 10), (7, 9), ("title", "kind"),
          "Make it rich: 7 to 10 rows or items and several series or fields.",
          "Favour multi-step questions: differences, comparisons, rankings and totals."),
)}


def parse_mix(text: str) -> tuple[tuple[str, float], ...]:
    """``"easy=0.3,medium=0.5,hard=0.2"`` -> (("easy", 0.3), ...); "" -> () (no mix)."""
    out: list[tuple[str, float]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, weight = part.partition("=")
        try:
            out.append((name.strip(), float(weight)))
        except ValueError:
            raise ValueError(f"difficulty mix: {part!r} is not LEVEL=WEIGHT (e.g. easy=0.3)") from None
    check_mix(tuple(out))
    return tuple(out)


def check_mix(mix: tuple[tuple[str, float], ...]) -> None:
    names = [n for n, _ in mix]
    unknown = [n for n in names if n not in LEVELS]
    if unknown:
        raise ValueError(f"difficulty mix: unknown level {unknown[0]!r}; choose from {', '.join(LEVELS)}")
    if len(set(names)) != len(names):
        raise ValueError("difficulty mix: a level is named twice")
    if mix and (any(w < 0 for _, w in mix) or sum(w for _, w in mix) <= 0):
        raise ValueError("difficulty mix: weights must be >= 0 with a positive sum")


def draw(mix: tuple[tuple[str, float], ...], seed: int, index: int) -> str:
    """The level of document ``index`` ("" without a mix); weights need not sum to 1."""
    if not mix:
        return ""
    w = np.array([x for _, x in mix], dtype=float)
    u = float(np.random.default_rng([seed, index, 5]).random()) * w.sum()
    return mix[int(min(np.searchsorted(np.cumsum(w), u, side="right"), len(mix) - 1))][0]


def size(level: str, rng: np.random.Generator, what: str) -> int | None:
    """Rows (``what="rows"``) or nodes for the level; None keeps the sampler's own draw."""
    lv = LEVELS.get(level)
    span = getattr(lv, what) if lv else None
    return int(rng.integers(span[0], span[1] + 1)) if span else None
