"""Disjoint splits for ``pixmo gen docs --split``: no persona and no topic in two splits.

Personas and organisations (the names every offline title carries) are each ranked by the sha256 of
their text and cut 80/10/10 into train/validation/test, at least one each. The assignment depends
only on the set of names (not on the seed, the file order or the run), so a train run and a test
run made separately never share a persona or an organisation, and offline titles (``job.topic``),
which always name the organisation in split mode, never repeat across splits.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from generators.docs.bank import ORGS

SPLITS = ("train", "validation", "test")
HELD_OUT = 0.1  # validation and test each


def assign(names: Iterable[str]) -> dict[str, str]:
    """name -> split for a set of names (duplicates count once); needs at least 3 names."""
    uniq = sorted(set(names), key=lambda s: (hashlib.sha256(s.encode()).hexdigest(), s))
    n = len(uniq)
    if n < len(SPLITS):
        raise ValueError(f"{n} distinct names cannot be split three ways; give at least 3")
    held = max(1, round(n * HELD_OUT))
    cut = (n - 2 * held, n - held)
    return {s: SPLITS[0] if i < cut[0] else SPLITS[1] if i < cut[1] else SPLITS[2] for i, s in enumerate(uniq)}


def split_seed(seed: int, split: str) -> int:
    """The seed a split's documents are drawn with: the run seed when no split is asked for,
    else one derived from (split, seed), so splits made with the same --seed differ."""
    if not split:
        return seed
    return int(hashlib.sha256(f"{split}:{seed}".encode()).hexdigest()[:8], 16)


@functools.lru_cache(maxsize=1)
def _org_split() -> dict[str, str]:
    """Cut each domain's organisations 80/10/10 (so every domain has some in every split); a name
    that two domains share keeps the split it got first, so each name is in one split only."""
    table: dict[str, str] = {}
    for first, last in ORGS.values():
        for name, split in assign(f"{a} {b}" for a in first for b in last).items():
            table.setdefault(name, split)
    return table


def orgs_for(domain: str, split: str) -> list[str]:
    """The organisations of a domain that belong to a split (all of them when split is '')."""
    first, last = ORGS.get(domain, (("Central",), ("Office",)))
    names = [f"{a} {b}" for a in first for b in last]
    if not split:
        return names
    table = _org_split()
    return [n for n in names if table[n] == split]


def personas_for(personas: Sequence[Any], split: str) -> list[Any]:
    """The personas (objects with a ``persona`` text) of a split; all of them when split is ''."""
    if not split:
        return list(personas)
    table = assign(p.persona for p in personas)
    return [p for p in personas if table[p.persona] == split]
