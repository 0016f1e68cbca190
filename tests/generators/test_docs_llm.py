"""LLM mode end to end against the local OpenAI-compatible test server: canned replies, including
code that is broken, hangs, allocates 10 GB or opens a socket. Each is rejected and logged, the run
completes, and a rerun is served from the cache."""

from __future__ import annotations

import json
import logging
from functools import partial

import pytest
from typer.testing import CliRunner

from generators.docs.config import DocsConfig, RenderOptions
from generators.docs.pipeline import DocJob, make_shard
from generators.runner import plan_tasks, run
from pixmo.shards import iter_samples
from pixmo.testing import serve

GOOD = '''Here is the code:
```python
import io
import matplotlib.pyplot as plt
from PIL import Image

def generate_plot(df):
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(df.iloc[:, 0], df.iloc[:, 1], color=["#4C72B0", "#DD8452", "#55A868"])
    ax.set_title("Weekly orders")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    buf.seek(0)
    return Image.open(buf)
```'''
BAD = {
    "broken": "```python\ndef generate_plot(df):\n    return undefined_name + 1\n```",
    "hangs": "```python\ndef generate_plot(df):\n    while True:\n        pass\n```",
    "10GB": "```python\ndef generate_plot(df):\n    block = bytearray(10 * 1024**3)\n    return block\n```",
    "socket": "```python\nimport socket\n\ndef generate_plot(df):\n    s = socket.socket()\n"
              "    s.connect(('93.184.216.34', 80))\n```",
}
EXPECTED = {"broken": "NameError", "hangs": "time limit", "10GB": "MemoryError", "socket": "network access is disabled"}
QA_GOOD = "\n\n".join(
    ["What is the title? | Weekly orders | The code sets it.",
     "How many dishes are shown? | 3 | Three rows.",
     "Which dish has the most orders? | Brisket | 120 is the largest.",
     "Which dish has the fewest orders? | Cornbread | 60.",
     "Is Ribs above 100? | No | 95.",
     "What are Brisket orders? | 120 | From the data.",
     "Which is more: A. Ribs B. Cornbread | A | 95 > 60.",
     "What is the price of ribs? | Cannot be determined | Not in the data.",
     "a line with | too many | parts | here"])
BEHAVIOUR = ["good", "broken", "hangs", "10GB", "socket", "good-badqa"]


def _replies(by_seed):
    def fn(req):
        first = req["messages"][0]["content"]
        kind = by_seed[req["seed"]]
        if first.startswith("You are"):
            return "Brisket orders | Rib sales | Side dishes | Weekend specials | Catering"
        if "Write realistic data" in first:
            return "```csv\nDish,Orders\nBrisket,120\nRibs,95\nCornbread,60\n```"
        if first.startswith("Persona") and "Make a" in first:
            return GOOD.replace("Weekly orders", f"Weekly orders, {kind}") if kind.startswith("good") else BAD[kind]
        if "NOT provided" in first:
            if kind == "good-badqa" and len(req["messages"]) == 1:
                return "only one | block | here"  # rejected by the format check -> retried
            return QA_GOOD
        return "unexpected"
    return fn


@pytest.fixture
def llm_run(tmp_path):
    cfg0 = DocsConfig(renderers=("matplotlib",), mode="llm")
    by_seed = {DocJob(i, 3, "", "", "", None).seed_int: BEHAVIOUR[i] for i in range(6)}
    with serve(_replies(by_seed)) as srv:
        llm = {"base_url": srv.base_url, "cache_dir": str(tmp_path / "cache"), "backoff": 0.0,
               "models": {"code": "code-model", "qa": "qa-model"}, "price_in": {"code-model": 3.0},
               "price_out": {"code-model": 15.0}}
        cfg = DocsConfig(**{**cfg0.__dict__, "llm": llm})
        yield cfg, srv, tmp_path


def test_llm_mode_rejects_bad_code_and_completes(llm_run, caplog):
    cfg, srv, tmp = llm_run
    caplog.set_level(logging.WARNING, logger="generators.docs.pipeline")
    fast = partial(make_shard, render=RenderOptions(threads=3, timeout=3.0))
    summary = run(fast, cfg, plan_tasks(list(range(6)), 6, 3), tmp / "out", dataset="pixmo-docs",
                  seed=3, progress=False)
    assert summary["samples"] == 2
    stats = json.loads((tmp / "out" / "shard-000000.tar.stats.json").read_text())["stats"]
    rejections = {r["index"]: r for r in stats["rejections"]}
    assert sorted(rejections) == [1, 2, 3, 4]
    for i, want in zip([1, 2, 3, 4], ["broken", "hangs", "10GB", "socket"], strict=True):
        assert rejections[i]["stage"] == "render"
        assert EXPECTED[want] in rejections[i]["error"], rejections[i]
        assert any(f"docs {i} (matplotlib) rejected at render" in r.getMessage() for r in caplog.records)
    # topic, data, code for 6 documents; QA for the 2 that rendered, plus one QA retry
    assert stats["llm_requests"] == 6 * 3 + 2 + 1 and stats["llm_cost_usd"] > 0
    samples = list(iter_samples(tmp / "out", verify=True))
    for s in samples:
        (ann,) = s.annotations
        assert ann.subset == "pixmo-docs-charts" or ann.subset == "pixmo-docs-tables"
        q = ann.record.questions
        assert len(q.question) == 8 and q.answer[1] == "3"  # the 3-part blocks only
        assert ann.meta["explanations"][0] == "The code sets it."
        prov = ann.meta["provenance"]
        assert prov["code"]["model"] == "code-model" and prov["qa"]["model"] == "qa-model"
        assert prov["code"]["endpoint"] == srv.base_url and prov["qa"]["prompt_version"] == cfg.prompt_version
        assert "generate_plot" in s.extras["docs_code.txt"].decode()
        assert s.extras["docs_data.txt"].decode().startswith("Dish,Orders")
    # the bad QA reply was sent back with the error
    retried = [r for r in srv.chat_requests() if len(r["messages"]) == 3]
    assert retried and "rejected" in retried[0]["messages"][-1]["content"]

    # a rerun costs nothing: every reply comes from the cache
    before = len(srv.chat_requests())
    again = fast(cfg, plan_tasks(list(range(6)), 6, 3)[0])
    assert len(srv.chat_requests()) == before
    assert again.stats["llm_requests"] == 0 and again.stats["llm_cached"] > 0
    assert sorted(s.key for s in again.samples) == sorted(s.key for s in samples)


def test_llm_mode_without_endpoint_says_unavailable(tmp_path, monkeypatch):
    from generators.cli import app

    monkeypatch.delenv("PIXMO_LLM_BASE_URL", raising=False)
    res = CliRunner().invoke(app, ["docs", "--num", "2", "--out", str(tmp_path / "o"), "--mode", "llm"])
    assert res.exit_code == 3
    assert "unavailable" in res.output and "PIXMO_LLM_BASE_URL" in res.output


def test_llm_mode_json_data_renderers(tmp_path):
    """JSON data + DOT code and CSV data + a Vega-Lite spec (no Python): both render, QA kept."""
    dot = "```dot\ndigraph G { bgcolor=\"#eef3f8\"; node [style=filled, fillcolor=\"#4C72B0\"];\n" \
          "  Order -> Pack -> Ship; Pack -> Order [label=\"missing\"]; }\n```"
    vega = ('```json\n{"data": {"values": [{"d": "Ribs", "n": 95}, {"d": "Brisket", "n": 120}]}, '
            '"background": "#f7f3ea", "mark": "bar", "width": 300, "height": 200, '
            '"encoding": {"x": {"field": "d", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}}}\n```')

    def fn(req):
        first = req["messages"][0]["content"]
        if first.startswith("You are"):
            return "Order flow | Sales"
        if "Write realistic data" in first and "CSV" in first:
            return "```csv\nDish,Orders\nRibs,95\nBrisket,120\n```"
        if "Write realistic data" in first:
            return '```json\n{"steps": ["Order", "Pack", "Ship"]}\n```'
        if "Make a" in first:
            return dot if "with graphviz" in first else vega
        return QA_GOOD

    with serve(fn) as srv:
        llm = {"base_url": srv.base_url, "cache_dir": str(tmp_path / "cache"), "backoff": 0.0}
        cfg = DocsConfig(renderers=("graphviz", "vegalite"), mode="llm", llm=llm)
        res = make_shard(cfg, plan_tasks([0, 1], 2, 1)[0])
    assert res.stats["rejected"] == 0, res.stats["rejections"]
    got = {s.annotations[0].meta["renderer"]: s for s in res.samples}
    assert set(got) == {"graphviz", "vegalite"}
    assert got["graphviz"].annotations[0].subset == "pixmo-docs-diagrams"
    assert got["graphviz"].extras["docs_data.txt"] == b'{"steps": ["Order", "Pack", "Ship"]}'
    assert b"digraph" in got["graphviz"].extras["docs_code.txt"]


LEAKY = '''```python
import io
import os
import matplotlib.pyplot as plt
from PIL import Image

def generate_plot(df):
    try:
        passwd = open("/etc/passwd").read().splitlines()[0]
    except OSError as exc:
        passwd = "no passwd"
    key = os.environ.get("PIXMO_LLM_API_KEY", "no key")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(df.iloc[:, 0], df.iloc[:, 1])
    ax.set_title(key + " | " + passwd, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    buf.seek(0)
    return Image.open(buf)
```'''


def test_llm_code_cannot_put_the_api_key_or_host_files_into_a_shard(tmp_path, monkeypatch):
    """Through the real pipeline: LLM code that draws the API key and /etc/passwd into its chart. The
    chart renders (the code is valid), but what it drew is 'no key | no passwd'."""
    secret = "sk-live-do-not-leak-123"
    monkeypatch.setenv("PIXMO_LLM_API_KEY", secret)

    def fn(req):
        first = req["messages"][0]["content"]
        if first.startswith("You are"):
            return "Brisket orders | Rib sales"
        if "Write realistic data" in first:
            return "```csv\nDish,Orders\nBrisket,120\nRibs,95\nCornbread,60\n```"
        if "Make a" in first:
            return LEAKY
        return QA_GOOD

    with serve(fn) as srv:
        llm = {"base_url": srv.base_url, "cache_dir": str(tmp_path / "cache"), "backoff": 0.0}
        # a timeout of its own: a fresh render context, so its sandbox starts with the key in our environment
        cfg = DocsConfig(renderers=("matplotlib",), mode="llm", llm=llm)
        run(partial(make_shard, render=RenderOptions(timeout=17.0)), cfg, plan_tasks([0], 1, 9), tmp_path / "out", dataset="pixmo-docs", seed=9, progress=False)
    (sample,) = list(iter_samples(tmp_path / "out", verify=True))
    drawn = " ".join(t for t, _ in sample.annotations[0].meta["drawn_text"])
    assert "no key | no passwd" in drawn, drawn
    assert secret not in drawn and "root:" not in drawn
