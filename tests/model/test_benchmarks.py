"""The paper's benchmarks from tiny files in their published layouts: loaders, prompts, the
suite on a tiny model (CLI), any model through an OpenAI-compatible endpoint (local test server)."""

from __future__ import annotations

import json

import pytest
from bench_fixtures import perfect_answer, write_benchmarks
from typer.testing import CliRunner

from model.bench_backends import EndpointBackend
from model.bench_run import run_suite
from model.benchmarks import BENCHMARKS, ELEVEN, load_benchmark


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("benchmarks")
    return root, write_benchmarks(root)


def test_every_benchmark_loads_from_its_published_layout(bench_root):
    _, paths = bench_root
    assert set(paths) == set(BENCHMARKS) and len(ELEVEN) == 11
    for name, path in paths.items():
        items = load_benchmark(name, path)
        assert len(items) == (3 if name == "mmmu" else 2), name
        assert all(it.example.messages[-1].endswith(" Assistant:") for it in items)
        assert [it.image is None for it in items] == [name == "mmmu" and i == 2 for i in range(len(items))]


def test_prompts_carry_style_prefix_and_choices(bench_root):
    _, paths = bench_root
    (ai2d, _) = load_benchmark("ai2d", paths["ai2d"])
    assert ai2d.prompt == "ai2_diagram: Which label is the leaf 0?\nA: stem\nB: leaf\nC: root\nD: flower\n"
    assert ai2d.example.answer == "B"
    chart = load_benchmark("chartqa", paths["chartqa"])[0]
    assert chart.example.messages == [" User: chart_qa: What is the peak value? Assistant:"]
    vqa = load_benchmark("vqav2", paths["vqav2"])[0]
    assert vqa.prompt == "vqa2: What color is the bus?" and vqa.example.meta["answers"] == ["red"] * 10
    mc, short = load_benchmark("realworldqa", paths["realworldqa"])
    assert mc.prompt.startswith("a_okvqa_mc: Which way") and mc.prompt.endswith("nothing else.")
    assert short.prompt == "vqa2: How many lanes are there?"  # the instruction line is dropped
    mv = load_benchmark("mathvista", paths["mathvista"])[0]
    assert mv.prompt == "a_okvqa_mc: Which shape is larger?\nA: circle\nB: square\n"
    mmmu = load_benchmark("mmmu", paths["mmmu"])[0]
    assert mmmu.prompt.endswith("A: Baroque\nB: Cubism\n") and mmmu.image is not None
    clock = load_benchmark("clock_bench", paths["clock_bench"])[0]
    assert clock.prompt == "clocks: What time is being shown?" and clock.example.meta["hour"] == 0  # 12 -> 0
    assert load_benchmark("pixmo_points_eval", paths["pixmo_points_eval"])[0].example.meta["masks"][0].shape == (48, 64)


def test_suite_through_an_openai_endpoint_scores_perfect_answers_100(bench_root, tmp_path, monkeypatch):
    """Every benchmark (caption F1 with the endpoint as judge too) scores 100 with the right answers."""
    from test_metrics import fake_judge

    from pixmo.testing import serve

    root, paths = bench_root
    answers = {}  # (image, prompt) -> the right answer
    for name, p in paths.items():
        for it in load_benchmark(name, p):
            content = EndpointBackend.messages(None, it)[0]["content"]  # type: ignore[arg-type]
            answers[_image_url(content), content[-1]["text"]] = perfect_answer(it)

    def reply(req):
        content = req["messages"][-1]["content"]
        if isinstance(content, str):  # a caption-F1 judge request
            return fake_judge(req["messages"])
        return answers[_image_url(content), content[-1]["text"]]

    with serve(reply) as srv:
        monkeypatch.setenv("PIXMO_LLM_BASE_URL", srv.base_url)
        monkeypatch.setenv("PIXMO_LLM_CACHE_DIR", "")
        res = run_suite(EndpointBackend(srv.base_url, "molmo-test"), paths, out_dir=tmp_path / "eval")
        reqs = srv.chat_requests()
    scores = {k: v["score"] for k, v in res["benchmarks"].items()}
    assert scores == pytest.approx(dict.fromkeys(BENCHMARKS, 100.0))  # F1 has a 1e-10 in its denominator
    assert res["avg11"] == pytest.approx(100.0) and not res["skipped"]
    assert {r.get("max_tokens") for r in reqs} == {12, 192, 448, None} and {r["temperature"] for r in reqs} == {0.0}
    saved = json.loads((tmp_path / "eval/results.json").read_text())
    assert saved["benchmarks"]["chartqa"]["metrics"]["relaxed"] == 1.0 and "11-avg" in (
        tmp_path / "eval/report.html").read_text()


def _image_url(content: list[dict]) -> str | None:
    urls = [c["image_url"]["url"] for c in content if c["type"] == "image_url"]
    assert all(u.startswith("data:image/png;base64,") for u in urls)
    return urls[0] if urls else None


def test_paper_suite_on_a_tiny_model_through_the_cli(bench_root, tmp_path, monkeypatch):
    from model.checkpoint import save_checkpoint
    from model.cli import app
    from model.config import get_config
    from model.molmo import build_model
    from model.optim import OptimConfig, build_optimizer

    monkeypatch.delenv("PIXMO_LLM_BASE_URL", raising=False)
    root, _ = bench_root
    model = build_model(get_config("tiny"), seed=0).eval()
    save_checkpoint(tmp_path / "run", model, build_optimizer(model.param_groups(), OptimConfig()), 0,
                    {"train_config": {"tokenizer": "tiny"}})
    out = tmp_path / "eval"
    res = CliRunner().invoke(app, ["eval", str(tmp_path / "run"), "--suite", "paper", "--data", str(root),
                                   "--out-dir", str(out), "--max-new-tokens", "1"])
    assert res.exit_code == 0, res.output
    assert "11-avg" in res.output
    saved = json.loads((out / "results.json").read_text())
    assert set(saved["benchmarks"]) == set(BENCHMARKS) - {"pixmo_cap"} and saved["avg11"] is not None
    assert "LLM judge" in saved["skipped"]["pixmo_cap"]  # caption F1 needs PIXMO_LLM_BASE_URL
    assert {k: v["n"] for k, v in saved["benchmarks"].items()} == {k: 3 if k == "mmmu" else 2 for k in saved["benchmarks"]}
    report = (out / "report.html").read_text()
    shown = [f["image"] for v in saved["benchmarks"].values() for f in v["failures"] if f["image"]]
    assert shown and all((out / "failures" / s).is_file() and f"failures/{s}" in report for s in shown)


def test_bad_benchmark_data_is_one_line_and_exit_2(tmp_path):
    from model.cli import app

    run = CliRunner().invoke(app, ["eval", str(tmp_path / "run"), "--benchmark", "chartqa", "--data",
                                   str(tmp_path / "missing")])
    assert run.exit_code == 2 and run.output.strip().count("\n") == 0 and "does not exist" in run.output
    (tmp_path / "bad.json").write_text("{not json")
    run = CliRunner().invoke(app, ["eval", "x", "--benchmark", "nope", "--data", str(tmp_path / "bad.json")])
    assert run.exit_code == 2 and "unknown benchmark" in run.output


def test_pixmo_benchmarks_read_toolkit_shards_and_their_held_out_split(tmp_path):
    """The demo's path: PixMo-Count, PixMo-Points-Eval and clocks from our own shards, `split="val"`
    keeping only the hash-held-out images (model.data.split_of)."""
    from pixmo_samples import sample_with

    from model.bench_run import score_items
    from model.benchmarks import get_benchmark
    from model.data import split_of
    from pixmo.shards import write_samples

    samples = [sample_with(["count", "points_eval", "clock"], seed=s) for s in range(6)]
    write_samples(tmp_path / "shards", samples, dataset="fixture")
    held = [s for s in samples if split_of(s.key, 0.5) == "val"]
    assert 0 < len(held) < len(samples)
    for name in ("pixmo_count", "pixmo_points_eval", "clocks"):
        items = load_benchmark(name, tmp_path / "shards")
        assert len(items) == 6 and all(isinstance(it.image, bytes) for it in items)
        val = load_benchmark(name, tmp_path / "shards", split="val", val_fraction=0.5)
        assert sorted(it.id for it in val) == sorted(s.key for s in held)
        metrics, _ = score_items(get_benchmark(name), items, [perfect_answer(it) for it in items])
        assert metrics[get_benchmark(name).headline] == pytest.approx(1.0)


@pytest.mark.slow  # about 30 s on 2 busy cores (importing transformers, building the model)
def test_a_transformers_checkpoint_runs_the_same_benchmark(bench_root, tmp_path):
    """A Hugging Face model folder (here a tiny random LLaVA built offline) goes through the same
    prompts and metrics as our checkpoints (TransformersBackend)."""
    from bench_fixtures import write_tiny_llava

    from model.bench_backends import TransformersBackend, open_backend
    from model.cli import app

    _, paths = bench_root
    hf = write_tiny_llava(tmp_path / "llava")
    assert isinstance(open_backend(str(hf)), TransformersBackend)
    out = tmp_path / "eval"
    res = CliRunner().invoke(app, ["eval", str(hf), "--benchmark", "chartqa", "--benchmark", "countbenchqa",
                                   "--data", f"chartqa={paths['chartqa']}", "--data", f"countbenchqa={paths['countbenchqa']}",
                                   "--out-dir", str(out), "--max-new-tokens", "3"])
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "results.json").read_text())
    assert saved["model"] == str(hf) and set(saved["benchmarks"]) == {"chartqa", "countbenchqa"}
    outputs = json.loads((out / "outputs.json").read_text())["chartqa"]
    assert len(outputs) == 2 and all(0 < len(o["output"].split()) <= 3 for o in outputs)  # a character per token
