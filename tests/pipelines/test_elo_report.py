"""`pixmo eval`: simulated votes -> `pixmo eval elo` HTML report opened in Chromium with its plots
(screenshot kept in out/test-artifacts/elo_report.png); campaign import and vote export through the
CLI; bad input named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.eval_cli import app
from pixmo.elo import simulate_votes

ROOT = Path(__file__).resolve().parents[2]
TRUE = {"molmo-7b": 1120.0, "molmo-1b": 1040.0, "baseline": 960.0, "tiny": 880.0}
runner = CliRunner()


def _votes(path: Path) -> Path:
    rows = simulate_votes(TRUE, 1500, seed=5, categories={"counting": {}, "ocr": {"tiny": 250.0}, "chat": {}})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.browser
@pytest.mark.xdist_group("elo_report")
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")
def test_report_opens_in_chromium_with_its_plots(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    votes = _votes(tmp_path / "votes.jsonl")
    out, js = tmp_path / "report.html", tmp_path / "ratings.json"
    r = runner.invoke(app, ["elo", str(votes), "--out", str(out), "--json", str(js), "--bootstrap", "200"])
    assert r.exit_code == 0, r.output
    assert "molmo-7b" in r.output and "report:" in r.output
    ratings = json.loads(js.read_text())
    assert [x["model"] for x in ratings["ratings"]] == list(TRUE)  # recovered order
    assert set(ratings["categories"]) == {"counting", "ocr", "chat"}
    shot = tmp_path / "elo_report.png"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = b.new_page(viewport={"width": 1100, "height": 900})
        page.goto(out.as_uri())
        imgs = page.eval_on_selector_all("img", "els => els.map(e => ({id: e.id, ok: e.complete, "
                                                "w: e.naturalWidth, h: e.naturalHeight, src: e.src.slice(0, 22)}))")
        rows = page.eval_on_selector_all("table.ratings tr", "els => els.length")
        page.screenshot(path=str(shot), full_page=True)
        b.close()
    assert {i["id"] for i in imgs} == {"plot-ratings", "plot-winrate", "plot-categories"}
    assert all(i["ok"] and i["w"] > 300 and i["h"] > 150 and i["src"] == "data:image/png;base64," for i in imgs), imgs
    assert rows == 4 * (len(TRUE) + 1)  # overall + 3 category tables, each with a header row
    assert shot.stat().st_size > 50_000
    artifacts = ROOT / "out" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, artifacts / "elo_report.png")


def test_campaign_import_and_vote_export_through_the_cli(tmp_path: Path) -> None:
    from annotation_app.speech.testing import test_image

    rows = []
    for i in range(3):
        (tmp_path / f"im{i}.png").write_bytes(test_image(i))
        for m in ("m1", "m2", "m3", "m4"):
            rows.append({"image": f"im{i}.png", "prompt": f"describe {i}", "model": m, "answer": f"{m} says {i}",
                         "category": "cap" if i else "ocr"})
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db = ["--db", f"sqlite:///{tmp_path}/app.db", "--media", str(tmp_path / "media")]
    r = runner.invoke(app, ["campaign", "arena", str(outputs), "--overlap", "2", "--pairs-per-prompt", "4", *db])
    assert r.exit_code == 0, r.output
    assert "12 new pairwise items" in r.output
    again = runner.invoke(app, ["campaign", "arena", str(outputs), "--pairs-per-prompt", "4", *db])
    assert "0 new pairwise items" in again.output  # same plan: nothing added twice
    more = runner.invoke(app, ["campaign", "arena", str(outputs), *db])
    assert "6 new pairwise items" in more.output  # all 6 pairs per prompt: the 2 missing ones
    r = runner.invoke(app, ["votes", "arena", "--out", str(tmp_path / "v.jsonl"), *db])
    assert r.exit_code == 0 and "0 votes" in r.output
    r = runner.invoke(app, ["votes", "nope", *db])
    assert r.exit_code == 2 and "no campaign named 'nope'" in r.output


def test_bad_votes_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"model_a": "x", "model_b": "y", "winner": "maybe"}\n')
    r = runner.invoke(app, ["elo", str(bad), "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 2 and "vote 1: winner must be one of" in r.output
    r = runner.invoke(app, ["elo", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 2 and "no such file" in r.output


def test_generate_answers_with_two_checkpoints_then_import(tmp_path: Path) -> None:
    """`pixmo eval generate` over tiny (untrained) Molmo checkpoints -> outputs that import as pairs."""
    import numpy as np
    import torch
    from PIL import Image

    from model.config import get_config
    from model.molmo import build_model

    ckpts = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        m = build_model(get_config("tiny"), seed=seed).eval()
        # the checkpoint-file layout `load_model` reads (what `pixmo model convert` writes)
        torch.save({"model": m.state_dict(), "model_config": m.cfg.to_dict(), "step": 0,
                    "train_config": {"tokenizer": "tiny"}}, tmp_path / f"ckpt{seed}.pt")
        ckpts += ["--checkpoint", f"ckpt{seed}={tmp_path / f'ckpt{seed}.pt'}"]
    prompts = tmp_path / "prompts" / "prompts.jsonl"
    prompts.parent.mkdir()
    for i in range(2):
        img = np.random.default_rng(i).integers(0, 256, (60, 80, 3), dtype=np.uint8)
        Image.fromarray(img).save(prompts.parent / f"p{i}.png")
    prompts.write_text("".join(json.dumps({"image": f"p{i}.png", "prompt": f"What is in image {i}?",
                                           "category": "chat"}) + "\n" for i in range(2)))
    out = tmp_path / "outputs.jsonl"
    r = runner.invoke(app, ["generate", str(prompts), *ckpts, "--out", str(out), "--max-new-tokens", "2"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((x["model"], x["prompt"]) for x in rows) == sorted(
        (f"ckpt{s}", f"What is in image {i}?") for s in (0, 1) for i in range(2))
    assert all(isinstance(x["answer"], str) and Path(x["image"]).is_file() for x in rows)
    db = ["--db", f"sqlite:///{tmp_path}/app.db", "--media", str(tmp_path / "media")]
    r = runner.invoke(app, ["campaign", "gen", str(out), *db])
    assert r.exit_code == 0 and "2 new pairwise items" in r.output, r.output
    bad = runner.invoke(app, ["generate", str(prompts), "--checkpoint", f"only={tmp_path / 'ckpt0.pt'}"])
    assert bad.exit_code == 2 and "at least two checkpoints" in bad.output
