"""TeX-family and music renderers (TikZ/pgfplots, Asymptote, LilyPond, LaTeX tables and math pages):
offline documents rendered in the sandbox, answers checked against the text drawn on the image,
time signatures read back from LilyPond's engraving, and an LLM-mode run through the test server."""

from __future__ import annotations

import io
import json
import re
import unicodedata
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from generators.docs import templates
from generators.docs.config import DocsConfig, load_personas
from generators.docs.evidence import is_drawn, legible_text
from generators.docs.pipeline import DocJob, _render, check_answers, make_shard, offline_content
from generators.docs.renderers import RENDERERS, RenderContext, check_image
from generators.docs.renderers_tex import time_signatures
from generators.docs.sandbox import Limits
from generators.docs.templates.music import TIMES
from generators.runner import plan_tasks
from pixmo.testing import serve

NEW = [(r, c, f) for r in ("tikz", "asymptote", "lilypond") for c, fs in templates.FIGURES[r].items() for f in fs]
NEW += [("latex", "tables", "booktabs table"), ("latex", "tables", "multirow table"), ("latex", "other", "derivation")]


@pytest.fixture(scope="module")
def ctx():
    c = RenderContext(Limits(timeout=90.0))  # LilyPond takes ~3 s of CPU; the test machine is shared
    yield c
    c.close()


def _norm(s: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", s).split()).casefold()


@pytest.mark.parametrize("renderer,category,figure", NEW, ids=[f"{r}-{f}" for r, _, f in NEW])
def test_offline_document_renders_in_the_sandbox_and_its_answers_are_drawn(ctx, renderer, category, figure):
    persona = load_personas()[7]
    job = DocJob(11, 4, renderer, category, persona.persona, persona.domain, figure)
    rng = np.random.default_rng([4, 11, 1])
    offline_content(job, rng)
    _render(job, replace(ctx, rng=rng))  # sandbox render, then the image checks (check_image)
    im = Image.open(io.BytesIO(job.image))
    assert min(im.size) >= 128 and im.width * im.height <= 2560 * 1440
    assert check_image(job.image)  # what is stored passes the checks again
    check_answers(job)  # keeps the pairs whose evidence is drawn legibly; >= 5 or it raises
    assert len(job.qa) >= 5
    # an independent matcher: every kept answer's evidence is in the drawn text at >= 8 px
    blob = " ".join(_norm(t) for t, px in job.drawn if px >= 8)
    pieces = [p for ev in job.evidence for p in ev]
    assert pieces, "no answer is tied to drawn text"
    for p in pieces:
        assert re.search(rf"(?<![0-9a-z.]){re.escape(_norm(p))}(?![0-9a-z])", blob), (p, job.drawn[:8])
    title = json.loads(job.data)["title"]
    assert is_drawn(title, legible_text(job.drawn))


def test_lilypond_time_signatures_are_read_from_the_engraving(ctx):
    """A score that changes metre four times: the digits LilyPond engraves are read back in order."""
    changes = " ".join(f"\\time {t} " + "c'8 " * TIMES[t] + "|" for t in TIMES)
    code = ('\\version "2.24.0"\n\\header { title = "Metre Study" composer = "Mei Lin" tagline = ##f }\n'
            "\\score { { \\numericTimeSignature " + changes + " } \\layout { } }\n")
    c = replace(ctx, drawn=[], rng=np.random.default_rng(0))
    RENDERERS["lilypond"].render(code, "{}", c)
    found = [t for t, _ in c.drawn if re.fullmatch(r"\d+/\d+", t)]
    assert found == list(TIMES), c.drawn
    texts = legible_text(c.drawn)
    assert is_drawn("Metre Study", texts) and is_drawn("Mei Lin", texts)


def test_lilypond_jobs_get_three_times_the_render_limit(ctx, monkeypatch):
    """One score takes seconds of CPU (the 20 s default rejected good scores with 6 in flight on 2
    cores): the LilyPond job runs under 3x the limit, the other TeX-family jobs under the limit."""
    seen: list[float] = []
    real = ctx.sandbox.run

    def recording(kind, files, outputs, **job):
        seen.append(job.get("timeout"))
        return real(kind, files, outputs, **job)

    monkeypatch.setattr(ctx.sandbox, "run", recording)
    score = ('\\version "2.24.0"\n\\header { title = "Short" tagline = ##f }\n'
             "\\score { { \\numericTimeSignature \\time 3/4 c'4 d' e' | } \\layout { } }\n")
    RENDERERS["lilypond"].render(score, "{}", replace(ctx, drawn=[], rng=np.random.default_rng(0)))
    tex = "\\documentclass[border=12pt]{standalone}\\begin{document}Short\\end{document}\n"
    RENDERERS["tikz"].render(tex, "{}", replace(ctx, drawn=[], rng=np.random.default_rng(0)))
    assert seen == [3 * ctx.sandbox.limits.timeout, ctx.sandbox.limits.timeout]


def test_time_signature_reader_needs_stacked_digits():
    def word(x0, y0, x1, y1, t):
        return f'<word xMin="{x0}" yMin="{y0}" xMax="{x1}" yMax="{y1}">{t}</word>'

    stacked = word(96.4, 60.4, 103.1, 96.9, "3") + word(95.8, 70.4, 103.7, 106.9, "4")
    assert time_signatures(stacked, 72) == [("3/4", pytest.approx(10.0))]
    side_by_side = word(96.4, 60.4, 103.1, 96.9, "3") + word(120.0, 60.4, 127.0, 96.9, "4")
    tempo_text = word(162.6, 59.7, 184.6, 69.2, "120") + word(162.6, 69.7, 184.6, 79.2, "60")
    assert time_signatures(side_by_side + tempo_text, 72) == []


def test_music_answers_match_the_notes_as_data():
    from generators.docs.bank import domain_for
    from generators.docs.templates.music import sample_music

    beats = {"1": 8, "2": 4, "2.": 6, "4": 2, "4.": 3, "8": 1}
    for seed in range(40):
        m = sample_music(np.random.default_rng(seed), domain_for("a violin teacher", None, seed), "Civic Hall")
        for bar in m.measures:  # every measure is exactly full, so LilyPond draws len(measures) bars
            assert sum(beats[re.sub(r"^[a-g](is|es)*[',]*", "", n)] for n in bar) == TIMES[m.time]
        qa = {q: a for q, a, _ in m.qa(np.random.default_rng(seed))}
        assert qa["How many measures does the piece have?"] == str(len(m.measures))
        assert qa["What is the time signature?"] == m.time


TIKZ_CODE = r"""Here it is:
```latex
\documentclass[border=12pt]{standalone}
\usepackage{pgfplots}
\pgfplotsset{compat=1.18}
\begin{document}
\begin{tikzpicture}
\fill[blue!15] (-1,-1) rectangle (11,7);
\begin{axis}[ybar, title={Weekly orders}, ymin=0, xtick={0,1,2}, xticklabels={Brisket,Ribs,Cornbread},
  nodes near coords, point meta=explicit symbolic, axis background/.style={fill=white}]
\addplot[fill=orange] coordinates {(0,120) [120] (1,95) [95] (2,60) [60]};
\end{axis}
\end{tikzpicture}
\end{document}
```"""
LILY_CODE = r"""```lilypond
\version "2.24.0"
\header { title = "Weekly orders" composer = "Ravi Patel" tagline = ##f }
\score { \new Staff \with { instrumentName = "Flute" } { \numericTimeSignature \time 3/4
  \tempo "Andante" 4 = 76
  c'4 d'8 e'8 f'4 | g'8 f'8 e'8 d'8 c'4 | b'4 c''4 d''4 | e''8 d''8 c''8 b'8 a'4 |
  d''4 c''8 b'8 a'4 | g'8 a'8 b'8 c''8 d''4 | e'4 d'8 c'8 b4 | c'8 e'8 g'8 e'8 c'4 |
  c''4 b'8 a'8 g'4 | f'8 g'8 a'8 b'8 c''4 | d''4 e''8 d''8 c''4 | b'8 a'8 g'8 f'8 e'4 |
  f'4 a'8 c''8 f''4 | e''8 c''8 a'8 c''8 e''4 | d''4 b'8 g'8 d'4 | c'2. \bar "|." }
  \layout { } }
```"""
LLM_QA = "\n\n".join([
    "What is the title? | Weekly orders | Shown on top.",
    "Which dish has the most orders? | Brisket | 120 is largest.",
    "How many orders did Ribs get? | 95 | Label above the bar.",
    "What is the time signature? | 3/4 | Printed at the start.",
    "What is the tempo marking? | Andante | Above the staff.",
    "How many orders did Coleslaw get? | 44 | Not drawn: a made-up value.",
    "Is Ribs above 100? | No | 95.",
    "What is the price of ribs? | Cannot be determined | Not in the data."])


def test_llm_mode_tikz_and_lilypond_through_the_test_server(tmp_path):
    """Topic, data, code and QA from the local OpenAI-compatible server; the TikZ chart and the score
    render in the sandbox; LLM answers that are data values are kept only when drawn."""
    def fn(req):
        first = req["messages"][0]["content"]
        if first.startswith("You are"):
            return "Weekly orders | Kitchen songs"
        if "Write realistic data" in first:
            return '```json\n{"dishes": {"Brisket": 120, "Ribs": 95, "Cornbread": 60, "Coleslaw": 44}, ' \
                   '"time": "3/4", "tempo": "Andante"}\n```'
        if "Make a" in first:
            return TIKZ_CODE if "with tikz" in first else LILY_CODE
        return LLM_QA

    with serve(fn) as srv:
        llm = {"base_url": srv.base_url, "cache_dir": str(tmp_path / "cache"), "backoff": 0.0}
        cfg = DocsConfig(renderers=("tikz", "lilypond"), mode="llm", llm=llm)
        res = make_shard(cfg, plan_tasks([0, 1], 2, 1)[0])
        prompts = [r["messages"][0]["content"] for r in srv.chat_requests() if "Make a" in r["messages"][0]["content"]]
    assert res.stats["rejected"] == 0, res.stats["rejections"]
    got = {s.annotations[0].meta["renderer"]: s.annotations[0] for s in res.samples}
    assert set(got) == {"tikz", "lilypond"}
    assert any("standalone" in p for p in prompts) and any("LilyPond 2.24" in p for p in prompts)
    tikz_answers = got["tikz"].record.questions.answer
    assert "95" in tikz_answers and "44" not in tikz_answers  # both data; only 95 is drawn
    lily_answers = got["lilypond"].record.questions.answer
    assert "3/4" in lily_answers and "Andante" in lily_answers and "95" not in lily_answers


def test_math_and_geometry_answers_match_their_data():
    """Independent of the QA code: the unknowns solve the problem's equations; the perimeter is the
    sum of the labelled sides; the triangle's labelled angles add up to 180."""
    from generators.docs.bank import domain_for
    from generators.docs.templates.asy import sample_geometry
    from generators.docs.templates.math_tex import sample_math

    for seed in range(30):
        d = domain_for("a bakery owner", None, seed)
        m = sample_math(np.random.default_rng(seed), d, "Maple Street Bakery")
        qa = {q: a for q, a, _ in m.qa(np.random.default_rng(seed))}
        nums = [int(v) for v in re.findall(r"\d+", m.problem)]
        if m.kind == "linear":
            fee, price, bill = nums[:3]
            assert int(qa["What is the value of x?"]) * price + fee == bill
        else:
            sold, a, c, money = nums[:4]
            x, y = int(qa["What is the value of x?"]), int(qa["What is the value of y?"])
            assert x + y == sold and a * x + c * y == money
        assert qa["How many numbered equations does the solution have?"] == str(len(m.steps))
        g = sample_geometry(np.random.default_rng(seed), d, "Maple Street Bakery")
        qa = {q: a for q, a, _ in g.qa(np.random.default_rng(seed))}
        sides = [g.sides[e] for e in (g.sides if g.kind == "triangle" else ("PQ", "QR"))]
        per = sum(sides) * (1 if g.kind == "triangle" else 2)
        assert qa["What is the perimeter of the figure?"] == f"{per:.1f} {g.unit}"
        if g.kind == "triangle":
            assert sum(g.angles.values()) == 180


@pytest.mark.parametrize("renderer,figure", [("tikz", "pie"), ("asymptote", "geometry"), ("lilypond", "score")])
def test_same_code_renders_the_same_bytes(ctx, renderer, figure):
    cat = next(c for c, fs in templates.FIGURES[renderer].items() if figure in fs)
    job = DocJob(2, 8, renderer, cat, load_personas()[1].persona, None, figure)
    offline_content(job, np.random.default_rng(3))
    a, b = (RENDERERS[renderer].render(job.code, job.data, replace(ctx, drawn=[], rng=np.random.default_rng(1)))
            for _ in range(2))
    assert a == b
