"""Titles that read like real ones: the persona's place and organisation, the measure, the period.

A persona gives a *setting* (the place it names, "in Memphis", "across Southeast Asia") and each
document an *organisation* (``bank.ORGS``: a domain's first x last words); titles combine them with
the measure and the span of the data ("Q1-Q4 2023", "2016-2021", "Spring 2022"), so 5,000 planned
documents have well over 90% distinct titles (tests/generators/test_docs_content.py).
"""

from __future__ import annotations

import re

import numpy as np

from generators.docs.bank import ORGS, Domain
from generators.docs.data import GraphData, TableData

_PLACE = re.compile(r"\b(?:in|across|through|at|from)\s+(?:the\s+)?((?:[A-Z][\w'-]+\s?)+)")
SEASONS = ("Spring", "Summer", "Autumn", "Winter")


def setting(persona: str) -> str:
    """The place a persona names ("A pitmaster ... in Memphis" -> "Memphis"), else ""."""
    m = _PLACE.search(persona)
    return m.group(1).strip() if m else ""


def org_name(rng: np.random.Generator, d: Domain, split: str = "") -> str:
    """An organisation of the domain; with a split, one of the organisations of that split only."""
    if split:
        from generators.docs.splits import orgs_for

        return str(rng.choice(orgs_for(d.name, split)))
    first, last = ORGS.get(d.name, (("Central",), ("Office",)))
    return f"{rng.choice(first)} {rng.choice(last)}"


def span(rng: np.random.Generator, t: TableData) -> str:
    year = int(rng.integers(2014, 2026))
    if t.temporal or (t.measure and len(t.columns) > 1):  # periods as rows, or as the series
        first, last = (t.labels[0], t.labels[-1]) if t.temporal else (t.columns[0], t.columns[-1])
        return f"{first}-{last}" if first[:1].isdigit() else f"{first}-{last} {year}"
    return str(rng.choice([str(year), f"{rng.choice(SEASONS)} {year}", f"FY{year}", f"Week {int(rng.integers(1, 53))}, {year}"]))


def table_title(rng: np.random.Generator, d: Domain, t: TableData, persona: str, org: str,
                named: bool = False) -> str:
    """A title for a table; ``named``: only patterns that name the organisation (split mode, so a
    title never repeats across splits)."""
    what = t.measure or (t.columns[0] if len(t.columns) == 1 else "Key figures")
    kinds = _plural(d.entity_kind.lower())
    where = setting(persona) or org
    s = span(rng, t)
    patterns: tuple[str, ...] = (f"{what} by {d.entity_kind.lower()}, {s}", f"{org}: {what} per {d.entity_kind.lower()}",
                f"{what} across {len(t.rows)} {kinds} ({s})", f"{org} - {what}, {s}",
                f"Comparing {what.lower()} at {org}, {s}", f"{what} in {where}, {s}",
                f"{s} {what.lower()} for {org}", f"How {kinds} compare on {what.lower()} - {where}, {s}")
    if named:
        patterns = tuple(p for p in patterns if org in p)
    return _cap(str(rng.choice(patterns)))


def graph_title(rng: np.random.Generator, d: Domain, g: GraphData, persona: str, org: str) -> str:
    where = setting(persona)
    at = f" ({where})" if where and rng.random() < 0.5 else ""
    options = {"flowchart": (f"{org}: from {g.nodes[0].lower()} to {g.nodes[-1].lower()}",
                             f"{g.nodes[0]} to {g.nodes[-1]} at {org}", f"{org} process map{at}"),
               "tree": (f"{org} organisation chart{at}", f"Who reports to the {g.nodes[0]} at {org}",
                        f"{org}: team under the {g.nodes[0]}"),
               "state": (f"{org}: {d.entity_kind.lower()} status lifecycle", f"Status flow of a {org} record{at}",
                         f"{d.entity_kind} states at {org}"),
               "network": (f"How {_plural(d.entity_kind.lower())} are linked at {org}", f"{org} network map{at}",
                           f"Links between {_plural(d.entity_kind.lower())} - {org}")}[g.kind]
    return _cap(str(rng.choice(options)))


def doc_title(kind: str, org: str) -> str:
    return f"{org} - {kind.title()}"


def _plural(word: str) -> str:
    if word.endswith(("species", "series")):
        return word
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "es" if word.endswith(("s", "sh", "ch", "x")) else word + "s"


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]
