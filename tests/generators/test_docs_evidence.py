"""QA answers checked against the rendered image: renderers report the text they drew and its size,
and a pair whose evidence is not drawn legibly is dropped."""

from __future__ import annotations

import json

import numpy as np
import pytest

from generators.docs.data import TableData
from generators.docs.evidence import MIN_TEXT_PX, filter_qa, is_drawn, legible_text, pdftotext_lines, svg_text
from generators.docs.qa import table_qa
from generators.docs.renderers import RENDERERS, RenderContext
from generators.docs.sandbox import Limits
from generators.docs.templates import plotly_t, style, vega


@pytest.fixture(scope="module")
def ctx():
    c = RenderContext(Limits(timeout=20.0))
    yield c
    c.close()


def test_filter_drops_pairs_whose_evidence_is_missing_or_too_small():
    drawn = [("Sales by region", 20.0), ("North", 12.0), ("12.5", 12.0), ("South", 12.0), ("7.25", 3.0)]
    qa = [("Title?", "Sales by region", ("Sales by region",)),
          ("North?", "12.5", ("North", "12.5")),
          ("South?", "7.25", ("South", "7.25")),  # drawn at 3 px: not legible
          ("East?", "4", ("East", "4")),  # not drawn at all
          ("Count?", "2", ())]
    kept, dropped = filter_qa(qa, drawn)
    assert [q for q, _, _ in kept] == ["Title?", "North?", "Count?"]
    assert len(dropped) == 2 and "7.25" in dropped[0] and "East" in dropped[1]
    # the stored image was downscaled to half: 12 px text is now 6 px
    assert [q for q, _, _ in filter_qa(qa, drawn, scale=0.5)[0]] == ["Title?", "Count?"]


def test_evidence_matches_whole_tokens_only():
    texts = legible_text([("15.7 kg", 12.0), ("5.70", 12.0), ("Brisket", 12.0), ("Platter", 12.0)])
    assert not is_drawn("5.7", texts)
    assert is_drawn("15.7", texts) and is_drawn("5.70", texts)
    assert is_drawn("Brisket Platter", texts)  # a label wrapped over two text elements


def test_svg_and_pdftotext_parsers():
    svg = '<svg><text font-size="14.00" x="1">Head &amp; Chef</text><text font-size="11px"><tspan>6</tspan></text></svg>'
    assert svg_text(svg, 2.0) == [("Head & Chef", 28.0), ("6", 22.0)]
    words = ('<line xMin="1" yMin="10" xMax="50" yMax="22"><word xMin="1" yMin="10" xMax="20" yMax="22">Total</word>'
             '<word xMin="25" yMin="10" xMax="50" yMax="22">12.00</word></line>')
    ((text, px),) = pdftotext_lines(words, 144)
    assert text == "Total 12.00" and px == pytest.approx(12 / 1.2 * 2)


def _mixed_table() -> TableData:
    rows = [["Kyoto", 5.7, 6, 0.25], ["Hanoi", 11.2, 11, 0.5], ["Bali", 8.4, 8, 1.75]]
    return TableData("Mixed decimals", "Destination", ["Rating", "Visitors", "Delay"], ["", "", ""], [1, 0, 2], rows)


def test_vegalite_heatmap_prints_each_series_with_its_own_decimals(ctx):
    t = _mixed_table()
    rng = np.random.default_rng(0)
    spec = vega.write("heatmap", t, rng, style(rng))
    ctx.drawn.clear()
    RENDERERS["vegalite"].render(spec, t.to_csv(), ctx)
    texts = legible_text(ctx.drawn)
    cells = [t.cell(i, j) for i in range(3) for j in range(3)]
    assert [c for c in cells if not is_drawn(c, texts)] == []
    assert not is_drawn("6.0", texts) and not is_drawn("0.3", texts)  # the old first-column format


def test_plotly_stacked_bar_hides_labels_too_small_to_read(ctx):
    rows = [["North", 480, 455, 2], ["South", 510, 430, 3], ["East", 470, 500, 4], ["West", 495, 460, 5]]
    t = TableData("Thin segments", "Region", ["Cars", "Bikes", "Boats"], ["", "", ""], [0, 0, 0], rows)
    rng = np.random.default_rng(1)
    code = plotly_t.write("stacked bar", t, rng, style(rng))
    ctx.drawn.clear()
    RENDERERS["plotly"].render(code, t.to_csv(), ctx)
    small = [(s, px) for s, px in ctx.drawn if s in {"2", "3", "4", "5"}]
    assert all(px >= MIN_TEXT_PX for _, px in small), small
    qa = [(q, a, ev) for q, a, ev in table_qa(t, np.random.default_rng(0)) if any(e in {"2", "3", "4", "5"} for e in ev)]
    kept, _ = filter_qa(qa, ctx.drawn)
    assert all(any(s == e for s, _ in small) for _, _, ev in kept for e in ev if e in {"2", "3", "4", "5"})
    assert is_drawn("480", legible_text(ctx.drawn))  # the wide segments keep their labels


@pytest.mark.parametrize("renderer,figure", [("matplotlib", "striped table"), ("latex", "ruled table"),
                                             ("graphviz", "tree"), ("html", "minimal table"), ("mermaid", "flowchart")])
def test_every_renderer_reports_the_text_it_drew(ctx, renderer, figure):
    from generators.docs.config import load_personas
    from generators.docs.pipeline import DocJob, offline_content

    cat = next(c for c in RENDERERS[renderer].categories if figure in __import__(
        "generators.docs.templates", fromlist=["FIGURES"]).FIGURES[renderer][c])
    job = DocJob(3, 1, renderer, cat, load_personas()[4].persona, None, figure)
    offline_content(job, np.random.default_rng(2))
    ctx.drawn.clear()
    RENDERERS[renderer].render(job.code, job.data, ctx)
    texts = legible_text(ctx.drawn)
    title = json.loads(job.data)["title"] if job.data.lstrip().startswith("{") else job.topic
    assert is_drawn(title, texts), (title, ctx.drawn[:5])
    assert len(ctx.drawn) >= 4


def test_llm_answers_that_are_data_values_must_be_drawn():
    from generators.docs.evidence import llm_evidence
    from generators.docs.pipeline import DocJob, check_llm_answers

    data = "Dish,Orders\nBrisket,120\nRibs,95\nCornbread,60\n"
    assert llm_evidence("Brisket", data) == ("Brisket",)
    assert llm_evidence("95", data) == ("95",)
    assert llm_evidence("No", data) == () and llm_evidence("215", data) == () and llm_evidence("B", data) == ()
    job = DocJob(0, 0, "matplotlib", "charts", "p", None, data=data)
    job.qa = [("Which dish sells most?", "Brisket", "e1"), ("Ribs orders?", "95", "e2"),
              ("Total of two?", "215", "e3"), ("Is Ribs above 100?", "No", "e4")]
    job.drawn = [("Brisket", 12.0), ("Ribs", 12.0), ("Cornbread", 12.0), ("120", 11.0), ("95", 4.0)]
    check_llm_answers(job)
    assert [a for _, a, _ in job.qa] == ["Brisket", "215", "No"]  # "95" is drawn at 4 px only
    assert [e for _, _, e in job.qa] == ["e1", "e3", "e4"] and len(job.qa_dropped) == 1
