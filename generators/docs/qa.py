"""QA written from the data (offline), each with its evidence, and the LLM QA block parser.

Offline questions cover values, comparisons, extremes, counts, sums, yes/no, multiple choice and
one unanswerable question, each with a short answer computed from the data and the strings the
image must show for the answer to be readable from it (``evidence.py`` checks them against the
text the renderer drew).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from generators.docs.data import DocData, GraphData, TableData, fmt

QA = tuple[str, str, tuple[str, ...]]  # question, answer, evidence: the strings the image must show
UNANSWERABLE = "Cannot be determined"
MC_STYLES = (("A", "B", "C", "D"), ("a", "b", "c", "d"), ("1", "2", "3", "4"))
MIN_QA = 5


def _mc(rng: np.random.Generator, question: str, correct: str, pool: list[str],
        evidence: tuple[str, ...] = ()) -> QA | None:
    wrong = [p for p in dict.fromkeys(pool) if p != correct]
    if len(wrong) < 2:
        return None
    opts = [str(x) for x in rng.choice(wrong, size=min(3, len(wrong)), replace=False)]
    pos = int(rng.integers(0, len(opts) + 1))
    opts.insert(pos, correct)
    labels = MC_STYLES[int(rng.integers(len(MC_STYLES)))]
    lines = "\n".join(f"{labels[i]}. {o}" for i, o in enumerate(opts))
    return f"{question}\n{lines}", labels[pos], evidence


def table_qa(t: TableData, rng: np.random.Generator, what: str = "chart") -> list[QA]:
    qa: list[QA] = [(f"What is the title of the {what}?", t.title, (t.title,))]
    n = len(t.rows)
    j = int(rng.integers(len(t.columns)))
    col, vals = t.columns[j], t.column(j)
    unit = f" ({t.units[j]})" if t.units[j] else ""
    i = int(rng.integers(n))
    lab = t.labels
    name = _name(t, j)
    qa.append((f"What is the {name}{unit} of {lab[i]}?" if not t.temporal else
               f"What is the value of {col}{unit} in {lab[i]}?", t.cell(i, j), (lab[i], t.cell(i, j))))
    hi, lo = int(np.argmax(vals)), int(np.argmin(vals))
    qa.append((f"Which {t.label.lower()} has the highest {name}?", lab[hi], (lab[hi], col) if t.measure else (lab[hi],)))
    qa.append((f"Which {t.label.lower()} has the lowest {name}?", lab[lo], (lab[lo], col) if t.measure else (lab[lo],)))
    a, b = (int(x) for x in rng.choice(n, size=2, replace=False))
    bigger = lab[a] if vals[a] > vals[b] else lab[b]
    qa.append((f"Which is higher for {col}: {lab[a]} or {lab[b]}?", bigger, (lab[a], lab[b])))
    qa.append((f"Is {col} of {lab[a]} greater than that of {lab[b]}?", "Yes" if vals[a] > vals[b] else "No",
               (lab[a], lab[b])))
    qa.append((f"How many {t.label.lower()} entries are shown?", str(n), ()))
    diff = round(abs(vals[a] - vals[b]), t.decimals[j])
    qa.append((f"What is the difference in {col} between {lab[a]} and {lab[b]}?", fmt(diff, t.decimals[j]),
               (lab[a], lab[b], t.cell(a, j), t.cell(b, j))))
    mc = _mc(rng, f"Which {t.label.lower()} has the highest {name}?", lab[hi], lab, (lab[hi],))
    if mc:
        qa.append(mc)
    if len(t.columns) > 1:
        k = next(x for x in range(len(t.columns)) if x != j)
        row = t.rows[i][1:]
        best = t.columns[int(np.argmax(row))]
        qa.append((f"For {lab[i]}, which column has the largest value: "
                   f"{' or '.join(t.columns)}?" if len(t.columns) == 2 else
                   f"For {lab[i]}, which of {', '.join(t.columns)} has the largest value?", best,
                   (lab[i], *(t.cell(i, c) for c in range(len(t.columns))))))
        qa.append((f"What is {t.columns[k]} of {lab[i]}?", t.cell(i, k), (lab[i], t.cell(i, k))))
    qa.append((f"What is {col} of {_missing_label(t)}?", UNANSWERABLE, ()))
    qa.append((f"Summarize what the {what} shows.",
               f"{t.title}: {col} for {n} {t.label.lower()} entries, highest for {lab[hi]} ({t.cell(hi, j)}) "
               f"and lowest for {lab[lo]} ({t.cell(lo, j)}).", (t.title, lab[hi], lab[lo], t.cell(hi, j), t.cell(lo, j))))
    return qa


def _name(t: TableData, j: int) -> str:
    """How a question names column ``j``: its series ("Kyoto") for a temporal table, "revenue in
    2023" when the columns are periods of one measure, else the column ("calories")."""
    col = t.columns[j]
    if t.temporal:
        return col
    if t.measure and len(t.columns) > 1:
        return f"{t.measure.lower()} in {col}"
    return col.lower()


def _missing_label(t: TableData) -> str:
    if t.temporal:
        return {"Year": "2031", "Quarter": "Q5 of the next year", "Month": "the following December",
                "Day": "the next Monday"}.get(t.label, "the next period")
    return "an item that is not listed"


def graph_qa(g: GraphData, rng: np.random.Generator) -> list[QA]:
    qa: list[QA] = [("What is the title of the diagram?", g.title, (g.title,)),
                    ("How many nodes does the diagram have?", str(len(g.nodes)), tuple(g.nodes))]
    qa.append(("How many connections (arrows or lines) are drawn in the diagram?", str(len(g.edges)), ()))
    e = g.edges[int(rng.integers(len(g.edges)))]
    qa.append((f"Is {e[0]} directly connected to {e[1]}?", "Yes", (e[0], e[1])))
    linked = {(x[0], x[1]) for x in g.edges} | {(x[1], x[0]) for x in g.edges}
    free = [(a, b) for a in g.nodes for b in g.nodes if a != b and (a, b) not in linked]
    if free:
        a, b = free[int(rng.integers(len(free)))]
        qa.append((f"Is {a} directly connected to {b}?", "No", (a, b)))
    outs = {n: len(g.out_edges(n)) for n in g.nodes}
    top = max(outs.values())
    if list(outs.values()).count(top) == 1:
        best = max(outs, key=outs.get)  # type: ignore[arg-type]
        word = "reports" if g.kind == "tree" else "outgoing connections"
        qa.append((f"Which node has the most {word}?" if g.kind != "tree" else
                   "Which role has the most direct reports?", best, (best,)))
    if g.kind in ("flowchart", "state"):
        qa.append((f"What is the first {'step' if g.kind == 'flowchart' else 'state'}?", g.nodes[0], (g.nodes[0],)))
        single = [n for n in g.nodes if len(g.out_edges(n)) == 1]
        if single:
            n = single[int(rng.integers(len(single)))]
            qa.append((f"What comes directly after {n}?", g.out_edges(n)[0][1], (n, g.out_edges(n)[0][1])))
    labelled = [x for x in g.edges if x[2]]
    if labelled:
        x = labelled[int(rng.integers(len(labelled)))]
        qa.append((f"What is the label of the transition from {x[0]} to {x[1]}?", x[2], (x[0], x[1], x[2])))
    if g.kind == "tree":
        root = g.nodes[0]
        qa.append(("Which role is at the top of the chart?", root, (root,)))
        qa.append((f"How many roles report directly to the {root}?", str(len(g.out_edges(root))), (root,)))
    decoys = ["Budget approval", "Marketing review", "Legal check", "Archive", "Customer survey"]
    absent = [d for d in decoys if d not in g.nodes]
    mc = _mc(rng, "Which of these does NOT appear in the diagram?", absent[0], [*g.nodes, absent[0]], tuple(g.nodes))
    if mc:
        qa.append(mc)
    node = g.nodes[int(rng.integers(len(g.nodes)))]
    qa.append((f"How long does {node} take?", UNANSWERABLE, (node,)))
    qa.append(("Summarize what the diagram shows.",
               f"{g.title}: {len(g.nodes)} nodes ({', '.join(g.nodes[:3])}{', ...' if len(g.nodes) > 3 else ''}) "
               f"joined by {len(g.edges)} connections.", (g.title, *g.nodes[:3])))
    return qa


def doc_qa(d: DocData, rng: np.random.Generator) -> list[QA]:
    t, x, kind = d.items, d.extra, d.kind
    qa: list[QA] = [("What kind of document is this?", kind.title(), (kind.title(),)),
                    (f"What is the date on the {kind}?", d.fields["Date"], (d.fields["Date"],))]
    if x.get("number"):
        num = d.fields[x["number"]]
        qa.append((f"What is the {x['number'].rstrip('.').lower()} of this {kind}?", num, (num,)))
    who = d.fields[x["person"]]
    qa.append((f"Who is named as {x['person'].lower()} on the {kind}?", who, (who,)))
    party = d.fields[x["party"]]
    qa.append((f"What is the {x['party'].lower()} entry of the {kind}?", party, (party,)))
    qa.append((f"How many {t.label.lower() or 'row'} entries are listed?" if t.label else "How many rows are listed?",
               str(len(t.rows)), tuple(t.labels)))
    i = int(rng.integers(len(t.rows)))
    last = len(t.columns) - 1
    for j in sorted({0, last}):
        unit = f" ({t.units[j]})" if t.units[j] else ""
        qa.append((f"What is the {t.columns[j].lower()}{unit} of {t.labels[i]}?", t.cell(i, j), (t.labels[i], t.cell(i, j))))
    vals = t.column(last)
    col = t.columns[last].lower()
    qa.append((f"Which entry has the highest {col}?", t.labels[int(np.argmax(vals))], tuple(t.labels)))
    if d.total:
        qa.append((f"What is the {x['total_label'].lower()}?", d.total, (d.total,)))
    lo = t.labels[int(np.argmin(vals))]
    mc = _mc(rng, f"Which entry has the lowest {col}?", lo, t.labels, tuple(t.labels))
    if mc:
        qa.append(mc)
    a, b = (int(v) for v in rng.choice(len(t.rows), size=2, replace=False))
    qa.append((f"Is the {col} of {t.labels[a]} higher than that of {t.labels[b]}?",
               "Yes" if vals[a] > vals[b] else "No", (t.labels[a], t.labels[b], t.cell(a, last), t.cell(b, last))))
    qa.append((f"What is the phone number on the {kind}?", UNANSWERABLE, ()))
    total = f", {x['total_label'].lower()} {d.total}" if d.total else ""
    qa.append(("Summarize this document.", f"A {kind} from {party} dated {d.fields['Date']} listing "
               f"{len(t.rows)} entries{total}.", (party, d.fields["Date"])))
    return qa


def make_qa(data: Any, category: str, rng: np.random.Generator) -> list[QA]:
    if isinstance(data, GraphData):
        return graph_qa(data, rng)
    if isinstance(data, DocData):
        return doc_qa(data, rng)
    return table_qa(data, rng, "chart" if category == "charts" else "table")


def parse_qa_blocks(text: str) -> list[tuple[str, str, str]]:
    """LLM QA: ``question | answer | explanation`` blocks split by blank lines; others are dropped."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        parts = [p.strip() for p in block.strip().split("|")]
        if len(parts) == 3 and all(parts):
            out.append((parts[0], parts[1], parts[2]))
    return out


def validate_qa_text(text: str, minimum: int = MIN_QA) -> list[tuple[str, str, str]]:
    """The LLM validation hook: at least ``minimum`` well-formed blocks, else raise (-> retry)."""
    blocks = parse_qa_blocks(text)
    if len(blocks) < minimum:
        raise ValueError(f"found {len(blocks)} valid 'question | answer | explanation' blocks, need {minimum}")
    return blocks
