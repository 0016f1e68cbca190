"""More Mermaid (v11) diagram kinds: sequence, class, ER, mindmap and xychart over the shared graph and
table data, and gantt and timeline charts with their own data and QA (``own_content``)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from generators.docs.bank import Domain
from generators.docs.data import GraphData, TableData, fmt
from generators.docs.documents import EVENTS
from generators.docs.qa import QA, UNANSWERABLE, _mc
from generators.docs.templates.graphs import MERMAID_THEMES, _q

GRAPH_KINDS = {"sequence": "network", "class": "network", "er": "network", "mindmap": "tree"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _ident(s: str) -> str:
    return re.sub(r"\W+", "_", s).strip("_") or "x"


def _head(title: str, rng: np.random.Generator) -> list[str]:
    return [f'---\ntitle: "{_q(title)}"\n---', f"%%{{init: {{'theme': '{rng.choice(MERMAID_THEMES)}'}}}}%%"]


def write_graph(figure_type: str, g: GraphData, rng: np.random.Generator, st: dict[str, Any]) -> str:
    ids = {n: f"n{i}" for i, n in enumerate(g.nodes)}
    if figure_type == "sequence":
        lines = ["sequenceDiagram"] + [f"    participant {ids[n]} as {_q(n)}" for n in g.nodes]
        lines += [f"    {ids[a]}->>{ids[b]}: {_q(lab) or 'step ' + str(i + 1)}" for i, (a, b, lab) in enumerate(g.edges)]
        if rng.random() < 0.5:
            lines.insert(1, "    autonumber")
    elif figure_type == "class":
        lines = ["classDiagram", f"    direction {rng.choice(['LR', 'TB'])}"]
        lines += [f'    class {ids[n]}["{_q(n)}"]' for n in g.nodes]
        lines += [f"    {ids[a]} {rng.choice(['-->', '--o', '--*', '..>'])} {ids[b]}" for a, b, _ in g.edges]
    elif figure_type == "er":
        lines = ["erDiagram"] + [f'    {ids[n]}["{_q(n)}"] {{\n        string name\n    }}' for n in g.nodes]
        lines += [f'    {ids[a]} {rng.choice(["||--o{", "}o--||", "||--||", "}|..|{"])} {ids[b]} : "links"'
                  for a, b, _ in g.edges]
    elif figure_type == "mindmap":
        kids: dict[str, list[str]] = {n: [] for n in g.nodes}
        for a, b, _ in g.edges:
            kids[a].append(b)
        lines = ["mindmap", f"  root(({_q(g.nodes[0])}))"]

        def walk(n: str, depth: int) -> None:
            for k in kids[n]:
                lines.append("  " * depth + f"{ids[k]}[{_q(k)}]")
                walk(k, depth + 1)
        walk(g.nodes[0], 2)
        return "\n".join(_head(g.title, rng)[1:] + lines) + "\n"  # a mindmap takes no title
    else:
        raise ValueError(f"no mermaid template for {figure_type!r}")
    return "\n".join(_head(g.title, rng) + lines) + "\n"


def write_xychart(t: TableData, rng: np.random.Generator) -> str:
    """A bar or line chart of the first column (``xychart-beta``), values as data labels."""
    vals = [fmt(v, t.decimals[0]) for v in t.column(0)]
    mark = "line" if t.temporal and rng.random() < 0.5 else "bar"
    hi = max(t.column(0))
    lines = [f"%%{{init: {{'theme': '{rng.choice(MERMAID_THEMES)}', 'xyChart': {{'showDataLabel': true}}}}}}%%",
             "xychart-beta", f'    title "{_q(t.title)}"',
             "    x-axis [" + ", ".join(f'"{_q(x)}"' for x in t.labels) + "]",
             f'    y-axis "{_q(t.header(0))}" 0 --> {fmt(hi * 1.2, t.decimals[0])}', f"    {mark} [{', '.join(vals)}]"]
    return "\n".join(lines) + "\n"


# -- gantt and timeline: their own data and QA --------------------------------------------------------
@dataclass
class Schedule:
    """Gantt: tasks (name, section, start day index, days) in order; timeline: periods with events."""

    title: str
    kind: str  # gantt | timeline
    items: list[list[Any]] = field(default_factory=list)  # gantt [name, section, start, days]; timeline [period, [events]]
    year: int = 2025

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def sample_gantt(rng: np.random.Generator, d: Domain, org: str) -> tuple[Schedule, list[QA]]:
    n = int(rng.integers(4, min(8, len(d.steps)) + 1))
    names = list(d.steps[:n])
    split = int(rng.integers(2, n - 1))
    sections = ["Preparation" if i < split else "Delivery" for i in range(n)]
    days = [int(x) for x in rng.integers(2, 12, n)]
    starts, t = [], 0
    for i in range(n):  # sequential, with some overlap
        starts.append(t)
        t += days[i] - (int(rng.integers(0, days[i] // 2 + 1)) if i else 0)
    year = int(rng.integers(2021, 2027))
    plan = str(rng.choice(["project plan", "rollout schedule", "season plan", "work plan", "launch timeline",
                           "refit schedule"]))
    s = Schedule(f"{org} {plan} {year}", "gantt", [[names[i], sections[i], starts[i], days[i]] for i in range(n)], year)
    longest = names[int(np.argmax(days))] if days.count(max(days)) == 1 else ""
    qa: list[QA] = [("What is the title of the chart?", s.title, (s.title,)),
                    ("How many tasks are in the plan?", str(n), tuple(names)),
                    (f"Which section is {names[-1]} in?", sections[-1], (names[-1], sections[-1])),
                    ("Which task starts first?", names[0], (names[0],)),
                    (f"Does {names[1]} start before {names[-1]}?", "Yes", (names[1], names[-1])),
                    (f"How many tasks are in the {sections[0]} section?", str(split), (sections[0], *names[:split]))]
    if longest:
        qa.append(("Which task takes the longest?", longest, (longest,)))
    mc = _mc(rng, "Which of these tasks is NOT in the plan?", "Budget approval", [*names, "Budget approval"], tuple(names))
    if mc:
        qa.append(mc)
    qa.append((f"Who is responsible for {names[0]}?", UNANSWERABLE, (names[0],)))
    return s, qa


def sample_timeline(rng: np.random.Generator, d: Domain, org: str) -> tuple[Schedule, list[QA]]:
    n = int(rng.integers(3, 6))
    start = int(rng.integers(2010, 2021))
    years = sorted(int(y) for y in rng.choice(np.arange(start, start + 12), size=n, replace=False))
    pool = [str(e) for e in rng.permutation(EVENTS[d.name])]
    counts = [1] * n
    for i in rng.permutation(n)[: len(pool) - n]:  # some years get a second event
        counts[int(i)] += int(rng.random() < 0.5)
    events: list[list[str]] = []
    for c in counts:
        events.append(pool[sum(len(x) for x in events):][:c])
    periods = [str(y) for y in years]
    s = Schedule(f"Milestones of {org}, {periods[0]}-{periods[-1]}", "timeline",
                 [[p, ev] for p, ev in zip(periods, events, strict=True)])
    k = int(rng.integers(n))
    y, evs = periods[k], events[k]
    sizes = [len(x) for x in events]
    qa: list[QA] = [("What is the title of the timeline?", s.title, (s.title,)),
                    ("How many periods does the timeline show?", str(n), tuple(periods)),
                    (f"In which year is {evs[0]} shown?", y, (evs[0], y)),
                    ("What is the earliest year on the timeline?", periods[0], (periods[0],)),
                    ("What is the latest year on the timeline?", periods[-1], (periods[-1],)),
                    (f"How many events are listed for {y}?", str(len(evs)), (y, *evs))]
    if sizes.count(max(sizes)) == 1:
        b = int(np.argmax(sizes))
        qa.append(("Which year lists the most events?", periods[b], (periods[b], *events[b])))
    qa.append((f"Is {events[0][0]} listed before {events[-1][0]}?", "Yes", (events[0][0], events[-1][0])))
    qa.append((f"How many people attended {evs[0]}?", UNANSWERABLE, (evs[0],)))
    return s, qa


def write_schedule(s: Schedule, rng: np.random.Generator) -> str:
    theme = str(rng.choice(MERMAID_THEMES))
    if s.kind == "timeline":
        lines = [f"%%{{init: {{'theme': '{theme}'}}}}%%", "timeline", f"    title {_q(s.title)}"]
        lines += [f"    {p} : " + " : ".join(_q(e) for e in evs) for p, evs in s.items]
        return "\n".join(lines) + "\n"
    base = np.datetime64(f"{s.year}-{int(rng.integers(1, 10)):02d}-01")
    bars = f"'barHeight': {int(rng.integers(36, 46))}, 'barGap': {int(rng.integers(10, 16))}, 'fontSize': 16"
    lines = [f"%%{{init: {{'theme': '{theme}', 'gantt': {{{bars}, 'sectionFontSize': 16}}}}}}%%", "gantt",
             f"    title {_q(s.title)}", "    dateFormat YYYY-MM-DD",
             "    axisFormat %d %b"]
    section = ""
    for i, (name, sec, start, days) in enumerate(s.items):
        if sec != section:
            lines.append(f"    section {sec}")
            section = sec
        lines.append(f"    {_q(name).replace(':', ' ')} :t{i}, {base + int(start)}, {int(days)}d")
    return "\n".join(lines) + "\n"


def own_content(rng: np.random.Generator, org: str, figure_type: str, d: Domain) -> tuple[Schedule, list[QA]]:
    return (sample_gantt if figure_type == "gantt" else sample_timeline)(rng, d, org)


def write(figure_type: str, data: Any, rng: np.random.Generator, st: dict[str, Any]) -> str | None:
    """Code for the kinds added here, or None for the kinds ``graphs.write_mermaid`` draws."""
    if figure_type in GRAPH_KINDS:
        return write_graph(figure_type, data, rng, st)
    if figure_type == "xychart":
        return write_xychart(data, rng)
    if isinstance(data, Schedule):
        return write_schedule(data, rng)
    return None
