"""Offline content that reads like real documents: checked on 5,000 planned documents (the planner
and the content writer only, no rendering) plus the Matplotlib table layout and the --report CLI."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from generators.docs import templates
from generators.docs.bank import BY_NAME, domain_for
from generators.docs.config import DocsConfig, load_personas
from generators.docs.data import DocData, TableData
from generators.docs.documents import EVENTS, GOODS
from generators.docs.pipeline import DocJob, offline_content, plan_job
from generators.docs.titles import setting

N = 5000
SEVEN = ("matplotlib", "plotly", "vegalite", "latex", "html", "mermaid", "graphviz")  # PixMo-Docs' renderers


@pytest.fixture(scope="module")
def planned():
    cfg, personas = DocsConfig(renderers=SEVEN), load_personas()
    out = []
    for i in range(N):
        job = plan_job(cfg, personas, 0, i)
        data = offline_content(job, np.random.default_rng([0, i, 1, 0]))
        out.append((job, data))
    return out


def test_5000_planned_documents_have_90_percent_distinct_titles(planned):
    titles = [job.topic for job, _ in planned]
    assert len(set(titles)) / N >= 0.90, len(set(titles))
    assert max(Counter(titles).values()) <= 5


def test_at_least_8_kinds_of_other_documents_with_their_own_items(planned):
    kinds = Counter()
    for job, data in planned:
        if job.category != "other" or job.figure_type in templates.SAMPLERS:  # scores, math pages, geometry
            continue
        assert isinstance(data, DocData)
        kinds[data.kind] += 1
        d = domain_for(job.persona, job.domain, job.index)
        allowed = {"goods": GOODS[d.name], "events": EVENTS[d.name]}
        items = data.items.labels
        if data.kind in ("invoice", "receipt", "form", "letter", "price list"):
            assert set(items) <= set(allowed["goods"]), (data.kind, d.name, items)
        elif data.kind in ("timetable", "poster"):
            assert set(items) <= set(allowed["events"]), (data.kind, d.name, items)
        elif data.kind == "menu":
            assert d.name == "food"
    assert len([k for k, n in kinds.items() if n >= 10]) >= 8, kinds


def test_series_of_stacked_grouped_heatmap_charts_share_one_unit(planned):
    seen = 0
    for job, data in planned:
        if job.figure_type in ("stacked bar", "grouped bar", "heatmap"):
            assert isinstance(data, TableData) and len(data.columns) > 1
            assert len(set(data.units)) == 1 and len(set(data.decimals)) == 1, (job.figure_type, data.columns)
            assert data.measure, data.columns
            seen += 1
    assert seen > 100


def test_pies_and_funnels_show_parts_of_a_whole(planned):
    seen = 0
    for job, data in planned:
        if job.figure_type in ("pie", "donut", "funnel"):
            d = domain_for(job.persona, job.domain, job.index)
            m = next(m for m in BY_NAME[d.name].measures if m.name == data.columns[0])
            assert m.additive, (job.figure_type, m.name)
            seen += 1
    assert seen > 100


def test_personas_bring_their_place_into_titles(planned):
    assert setting("A pitmaster who runs a Southern barbecue food truck in Memphis") == "Memphis"
    assert setting("A travel blogger who rates hostels across Southeast Asia") == "Southeast Asia"
    memphis = [job.topic for job, _ in planned if "Memphis" in job.persona]
    assert any("Memphis" in t for t in memphis)


def test_matplotlib_table_has_no_blank_column():
    """Drawn in-process from the template (our own code): the table has exactly the data's columns
    (rowColours used to add an empty row-label column)."""
    import io

    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    personas = load_personas()
    for figure in ("colored header table", "striped table"):
        job = DocJob(0, 0, "matplotlib", "tables", personas[0].persona, None, figure)
        offline_content(job, np.random.default_rng(5))
        ns: dict = {}
        exec(compile(job.code, "template.py", "exec"), ns)  # noqa: S102 - a template we wrote
        ns["generate_plot"](pd.read_csv(io.StringIO(job.data)))
        cells = plt.gcf().axes[0].tables[0].get_celld()
        cols = {c for _, c in cells}
        assert cols == set(range(len(pd.read_csv(io.StringIO(job.data)).columns))), (figure, sorted(cols))
        plt.close("all")


def test_gen_docs_report_prints_a_diversity_summary(tmp_path):
    from typer.testing import CliRunner

    from generators.cli import app

    res = CliRunner().invoke(app, ["docs", "--num", "6", "--out", str(tmp_path / "d"), "--renderers",
                                   "graphviz,html,latex", "--seed", "4", "--report"])
    assert res.exit_code == 0, res.output
    report = json.loads(next(ln for ln in res.output.splitlines() if ln.startswith('{"report"')))["report"]
    assert report["documents"] == 6 and report["distinct_titles"] == 6
    assert set(report["renderers"]) == {"graphviz", "html", "latex"}
    assert sum(report["qa_types"].values()) == report["qa_pairs"] >= 30
    assert {"count", "yes/no", "unanswerable"} <= set(report["qa_types"])
    assert templates.FIGURES  # the figure types counted come from the template bank
