"""LLM cost accounting per stage and per kept image, against the local test server: the tokens in
the report are the ones the server's responses reported, priced by the price table."""

from __future__ import annotations

import json
import threading

import pytest

from generators.common import RunOptions
from generators.docs.config import DocsConfig, RenderOptions
from generators.docs.costs import PriceTable, cost_table
from generators.docs.pipeline import DocJob
from generators.docs.report import write_run_report
from generators.docs.run_docs import run_docs
from pixmo.shards import iter_samples
from pixmo.testing import serve
from pixmo.testing.openai_server import _tokens
from tests.generators.test_docs_llm import GOOD, QA_GOOD

MODELS = {"topic": "m-topic", "data": "m-data", "code": "m-code", "qa": "m-qa"}
PRICES = PriceTable({"m-topic": (1.0, 2.0), "m-data": (3.0, 4.0), "m-code": (5.0, 6.0), "m-qa": (7.0, 8.0)})
ROWS = (("Brisket", 120), ("Ribs", 95), ("Cornbread", 60), ("Coleslaw", 33))


def _replies(by_seed, log):
    lock = threading.Lock()

    def fn(req):
        i = by_seed[req["seed"]]
        stage = {v: k for k, v in MODELS.items()}[req["model"]]
        if stage == "topic":
            reply = "Weekly orders | Rib sales"
        elif stage == "data":
            reply = "```csv\nDish,Orders\n" + "".join(f"{n},{v + 7 * i}\n" for n, v in ROWS[: 2 + i]) + "```"
        elif stage == "code":
            reply = GOOD.replace("Weekly orders", f"Weekly orders, week {i}")
        else:  # document 1's first QA reply breaks the format: retried, and the retry is counted
            reply = "only | one" if i == 1 and len(req["messages"]) == 1 else QA_GOOD
        with lock:
            log.append((req, reply))
        return reply
    return fn


@pytest.fixture
def llm_run(tmp_path):
    log: list = []
    by_seed = {DocJob(i, 2, "", "", "", None).seed_int: i for i in range(3)}
    with serve(_replies(by_seed, log)) as srv:
        llm = {"base_url": srv.base_url, "cache_dir": str(tmp_path / "cache"), "backoff": 0.0, "models": MODELS}
        cfg = DocsConfig(renderers=("matplotlib",), mode="llm", llm=llm)
        yield cfg, tmp_path, log


def _run(cfg, out):
    opts = RunOptions(out=str(out), seed=2, num=3, per_shard=3, progress=False)
    summary = run_docs(cfg, opts, RenderOptions(threads=3, timeout=20.0))
    return write_run_report(out / "report", out, summary["stats"], cfg.renderers, cfg.mode, PRICES)


def test_tokens_per_stage_and_cost_per_kept_image_match_the_server(llm_run):
    cfg, tmp, log = llm_run
    rep = _run(cfg, tmp / "out")
    want: dict[str, list[int]] = {}
    for req, reply in log:
        stage = {v: k for k, v in MODELS.items()}[req["model"]]
        w = want.setdefault(stage, [0, 0, 0])
        w[0] += 1
        w[1] += _tokens(" ".join(m["content"] for m in req["messages"]))
        w[2] += _tokens(reply)
    rows = {r["stage"]: r for r in rep["cost"]["rows"]}
    assert list(rows) == ["topic", "data", "code", "qa"]
    for stage, (calls, pt, ct) in want.items():
        r = rows[stage]
        assert (r["calls"], r["prompt_tokens"], r["completion_tokens"]) == (calls, pt, ct)
        assert r["usd"] == pytest.approx(PRICES.cost(MODELS[stage], pt, ct))
    assert rows["qa"]["calls"] == 4 and rows["qa"]["retries"] == 1  # 3 documents, one retried
    assert rep["kept"] == 3
    total = sum(PRICES.cost(MODELS[s], w[1], w[2]) for s, w in want.items())
    assert rep["cost"]["total_usd"] == pytest.approx(total) and total > 0
    assert rep["cost"]["usd_per_kept_image"] == pytest.approx(total / 3, rel=1e-4)
    md = (tmp / "out" / "report" / "report.md").read_text()
    assert "| qa | m-qa | 4 |" in md and "USD per kept image" in md


def test_each_page_keeps_its_prompts_and_tokens_as_extras(llm_run):
    cfg, tmp, log = llm_run
    _run(cfg, tmp / "out")
    accepted = {}  # (seed, model) -> the last request and its reply (a retried call's accepted one)
    for req, reply in log:
        accepted[(req["seed"], req["model"])] = (req, reply)
    for s in iter_samples(tmp / "out"):
        calls = json.loads(s.extras["docs_llm.json"])["calls"]
        assert [c["stage"] for c in calls] == ["topic", "data", "code", "qa"]
        seed = DocJob(s.annotations[0].meta["index"], 2, "", "", "", None).seed_int
        for c in calls:
            req, reply = accepted[(seed, c["model"])]
            assert c["prompt"] == req["messages"][0]["content"]
            assert c["prompt_tokens"] == _tokens(" ".join(m["content"] for m in req["messages"]))
            assert c["completion_tokens"] == _tokens(reply)


def test_a_rerun_served_from_the_cache_spends_nothing(llm_run):
    cfg, tmp, log = llm_run
    _run(cfg, tmp / "first")
    n = len(log)
    rep = _run(cfg, tmp / "again")
    assert len(log) == n  # no request reached the server
    assert all(r["calls"] == 0 and r["prompt_tokens"] == r["completion_tokens"] == 0 for r in rep["cost"]["rows"])
    assert sum(r["cached"] for r in rep["cost"]["rows"]) == 3 * 4 and rep["cost"]["total_usd"] == 0


def test_offline_runs_cost_nothing_and_say_so():
    table = cost_table("offline", {}, 10, PriceTable())
    assert table["total_usd"] == 0 and table["note"].startswith("offline mode")
    with pytest.raises(ValueError, match="must be"):
        PriceTable({"m": (-1.0, 2.0)})
