"""Structured data behind every offline document: a table, a graph, or a document (fields + items).

Values are rounded when sampled and printed with :func:`fmt`, so the CSV/JSON, the rendering code,
the image and the QA answers all show the same strings.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from generators.docs.bank import PERIODS, Domain, Measure


def fmt(v: float, decimals: int) -> str:
    """How a value is printed everywhere (data files, code, answers): fixed decimals, no separators."""
    return f"{v:.{decimals}f}"


@dataclass
class TableData:
    """Rows of a label column and one or more numeric columns."""

    title: str
    label: str  # header of the label column
    columns: list[str]  # numeric column headers (without unit)
    units: list[str]
    decimals: list[int]
    rows: list[list[Any]]  # [label, v1, v2, ...]
    temporal: bool = False  # labels are periods (line/area charts fit)
    kind: str = "table"
    measure: str = ""  # what the numbers are, when the columns are series of one measure

    @property
    def labels(self) -> list[str]:
        return [r[0] for r in self.rows]

    def column(self, j: int) -> list[float]:
        return [r[j + 1] for r in self.rows]

    def cell(self, i: int, j: int) -> str:
        return fmt(self.rows[i][j + 1], self.decimals[j])

    def header(self, j: int) -> str:
        return f"{self.columns[j]} ({self.units[j]})" if self.units[j] else self.columns[j]

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([self.label, *[self.header(j) for j in range(len(self.columns))]])
        for i, r in enumerate(self.rows):
            w.writerow([r[0], *[self.cell(i, j) for j in range(len(self.columns))]])
        return buf.getvalue()

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass
class GraphData:
    title: str
    kind: str  # flowchart | tree | state | network
    nodes: list[str]
    edges: list[list[str]]  # [src, dst, label]

    def out_edges(self, n: str) -> list[list[str]]:
        return [e for e in self.edges if e[0] == n]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass
class DocData:
    """A document: header fields, an item table (name, quantity, unit price) and a footer note."""

    title: str
    kind: str  # menu, invoice, ...
    fields: dict[str, str]
    items: TableData
    note: str = ""
    total: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        d = asdict(self)
        d["items"] = json.loads(self.items.to_json())
        return json.dumps(d, ensure_ascii=False)


def _values(rng: np.random.Generator, m: Measure, n: int) -> list[float]:
    """n distinct rounded values in the measure's range."""
    for _ in range(50):
        vals = [round(float(v), m.decimals) for v in rng.uniform(m.lo, m.hi, n)]
        if m.decimals == 0:
            vals = [int(v) for v in vals]
        if len(set(vals)) == n:
            return vals
    return [round(m.lo + (m.hi - m.lo) * (i + 1) / (n + 1), m.decimals) for i in range(n)]


def _measure(rng: np.random.Generator, d: Domain, additive: bool) -> Measure:
    pool = [m for m in d.measures if m.additive] if additive else list(d.measures)
    return pool[int(rng.integers(len(pool)))]


def sample_table(rng: np.random.Generator, d: Domain, topic: str, *, temporal: bool | None = None,
                 n_cols: int | None = None, n_rows: int | None = None, same_measure: bool = False,
                 additive: bool = False) -> TableData:
    """A table; ``same_measure``: all numeric columns are series of one measure (one unit, one
    magnitude: stacked, grouped and heatmap charts); ``additive``: a measure whose parts add up to
    a whole (pies, funnels, stacks)."""
    temporal = bool(rng.random() < 0.35) if temporal is None else temporal
    n_cols = n_cols or int(rng.choice([1, 1, 2, 3]))
    if not temporal and n_cols > 1 and same_measure:
        n = n_rows or int(rng.integers(3, 7))
        labels = [str(x) for x in rng.choice(d.entities, size=n, replace=False)]
        m = _measure(rng, d, additive)
        period = str(rng.choice(["years", "quarters"]))
        start = int(rng.integers(0, len(PERIODS[period]) - n_cols + 1))
        series = list(PERIODS[period][start:start + n_cols])
        colvals = [_values(rng, m, n) for _ in range(n_cols)]
        rows = [[labels[i], *[colvals[j][i] for j in range(n_cols)]] for i in range(n)]
        return TableData(topic, d.entity_kind, series, [m.unit] * n_cols, [m.decimals] * n_cols, rows,
                         False, measure=m.name)
    if temporal:
        period = str(rng.choice(list(PERIODS)))
        labels = list(PERIODS[period])
        n = min(len(labels), n_rows or int(rng.integers(4, 9)))
        start = int(rng.integers(0, len(labels) - n + 1))
        labels = labels[start:start + n]
        label = {"years": "Year", "quarters": "Quarter", "months": "Month", "weekdays": "Day"}[period]
        measures = [_measure(rng, d, additive)]
        series = list(rng.choice(d.entities, size=n_cols, replace=False)) if n_cols > 1 else [measures[0].name]
        m = measures[0]
        cols, units, decs = series, [m.unit] * n_cols, [m.decimals] * n_cols
        colvals = [_values(rng, m, n) for _ in range(n_cols)]
    else:
        n = n_rows or int(rng.integers(3, 8))
        labels = [str(x) for x in rng.choice(d.entities, size=n, replace=False)]
        label = d.entity_kind
        if additive and n_cols == 1:
            ms = [_measure(rng, d, True)]
        else:
            idx = rng.choice(len(d.measures), size=min(n_cols, len(d.measures)), replace=False)
            ms = [d.measures[int(i)] for i in idx]
        cols, units, decs = [m.name for m in ms], [m.unit for m in ms], [m.decimals for m in ms]
        colvals = [_values(rng, m, n) for m in ms]
    rows = [[labels[i], *[colvals[j][i] for j in range(len(cols))]] for i in range(n)]
    measure = measures[0].name if temporal else ""
    return TableData(topic, label, [str(c) for c in cols], units, decs, rows, temporal, measure=measure)


def sample_graph(rng: np.random.Generator, d: Domain, topic: str, kind: str | None = None,
                 size: int | None = None) -> GraphData:
    """A diagram's nodes and edges; ``size`` (the difficulty mix) sets the node count, clamped to
    what the domain has."""
    kind = kind or str(rng.choice(["flowchart", "tree", "state", "network"]))
    cap = {"flowchart": min(8, len(d.steps)), "tree": len(d.roles), "state": len(d.states), "network": 7}[kind]

    def nodes_n(lo: int, hi: int) -> int:
        return min(max(size, 4), cap) if size else int(rng.integers(lo, hi))

    if kind == "flowchart":
        n = nodes_n(4, cap + 1)
        nodes = list(d.steps[:n])
        edges = [[nodes[i], nodes[i + 1], ""] for i in range(n - 1)]
        if n >= 5 and rng.random() < 0.6:  # a decision that loops back
            j = int(rng.integers(2, n - 1))
            edges[j][2] = "yes"
            edges.append([nodes[j], nodes[j - 1], "no"])
    elif kind == "tree":
        n = nodes_n(4, len(d.roles) + 1)
        nodes = [d.roles[0], *[str(r) for r in rng.choice(d.roles[1:], size=n - 1, replace=False)]]
        edges = [[nodes[0], nodes[1], ""]] if n > 1 else []
        for i in range(2, n):
            parent = nodes[int(rng.integers(0, min(i, 3)))]
            edges.append([parent, nodes[i], ""])
    elif kind == "state":
        n = nodes_n(4, len(d.states) + 1)
        nodes = list(d.states[:n])
        verbs = ["start", "advance", "approve", "finish", "retry", "cancel", "resume", "close"]
        edges = [[nodes[i], nodes[i + 1], verbs[i % len(verbs)]] for i in range(n - 1)]
        k = int(rng.integers(1, n - 1))
        edges.append([nodes[k], nodes[0], "reset"])
    else:
        n = nodes_n(4, 8)
        nodes = [str(x) for x in rng.choice(d.entities, size=n, replace=False)]
        pairs = {(i, i + 1) for i in range(n - 1)}
        for _ in range(int(rng.integers(1, n))):
            a, b = sorted(int(x) for x in rng.choice(n, size=2, replace=False))
            pairs.add((a, b))
        edges = [[nodes[a], nodes[b], ""] for a, b in sorted(pairs)]
    return GraphData(topic, kind, nodes, edges)


def sample_doc(rng: np.random.Generator, d: Domain, topic: str, kind: str | None = None, org: str = "",
               n_items: int | None = None) -> DocData:
    """One of the eight document kinds (``documents.py``), with the domain's own items (``n_items``
    of them when the difficulty mix sets it)."""
    from generators.docs import documents

    k = documents.kind(kind or str(rng.choice(documents.kinds_for(d))))
    n = n_items or int(rng.integers(3, 7))
    if k.items_from == "entities":  # a report page: the domain's entities and two of its measures
        t = sample_table(rng, d, topic, temporal=False, n_cols=2, n_rows=n)
    else:
        vocab: dict[str, tuple[str, ...]] = {"goods": documents.GOODS[d.name], "events": documents.EVENTS[d.name]}
        pool = vocab.get(k.items_from, d.entities)  # a menu lists the domain's dishes
        names = [str(x) for x in rng.choice(pool, size=min(n, len(pool)), replace=False)]
        cols = [documents.distinct_values(rng, c.lo, c.hi, c.decimals, len(names)) for c in k.columns]
        t = TableData(topic, k.item, [c.name for c in k.columns], [c.unit for c in k.columns],
                      [c.decimals for c in k.columns], [[nm, *[col[i] for col in cols]] for i, nm in enumerate(names)])
    total = ""
    if k.total_kind == "product":
        total = f"{sum(r[1] * r[2] for r in t.rows):.2f}"
    elif k.total_kind == "sum":
        total = fmt(sum(r[1] for r in t.rows), t.decimals[0])
    fields = documents.sample_fields(rng, k, org or d.entity_kind)
    extra = {"number": k.number, "person": k.person, "party": k.party, "total_label": k.total,
             "total_unit": t.units[0] if k.total_kind == "sum" else "$" if k.total_kind else "",
             "total_kind": k.total_kind}
    return DocData(topic, k.name, fields, t, str(rng.choice(k.notes)), total, extra)
