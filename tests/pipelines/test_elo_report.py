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
