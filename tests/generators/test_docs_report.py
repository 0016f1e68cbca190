"""The run report: a table and a contact sheet per registered renderer, the cost table and the
dedup counts; ``make gen-docs`` runs every renderer in RENDERERS and writes it."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from pathlib import Path

from PIL import Image

from generators.docs.renderers import RENDERERS
from generators.docs.sheet import renderer_sheet
from pixmo.cli import main
from pixmo.shards import iter_samples

ROOT = Path(__file__).resolve().parents[2]


def test_report_has_a_row_and_a_contact_sheet_for_every_registered_renderer(tmp_path, capsys):
    out = tmp_path / "docs"
    n = len(RENDERERS)  # renderers take turns: one document each
    assert main(["gen", "docs", "--num", str(n), "--out", str(out), "--per-shard", str(n), "--report"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["report"]
    rep = json.loads((out / "report" / "report.json").read_text())
    assert printed["run_report"] == str(out / "report" / "report.md")
    kept, qa = Counter(), Counter()
    for s in iter_samples(out, verify=True):
        ann = s.annotations[0]
        kept[ann.meta["renderer"]] += 1
        qa[ann.meta["renderer"]] += len(ann.record.questions.question)
    assert [r["renderer"] for r in rep["renderers"]] == list(RENDERERS)
    for row in rep["renderers"]:
        name = row["renderer"]
        assert row["documents"] == 1 and row["kept"] == kept[name] and row["qa_pairs"] == qa[name]
        assert row["kept"] + row["rejected"] + row["near_duplicates"] == row["documents"]
        assert row["mean_render_s"] > 0
        sheet = Image.open(out / "report" / row["sheet"])
        assert sheet.size == (4 * 220, 22 + 183)  # one row of thumbnails
    assert rep["kept"] == sum(kept.values()) and rep["cost"]["total_usd"] == 0
    md = (out / "report" / "report.md").read_text()
    assert "offline mode: no LLM calls" in md and "near-duplicates dropped" in md
    assert all(f"![{r}](sheets/{r}.png)" in md for r in RENDERERS)


def test_a_renderer_sheet_is_a_grid_of_its_pages(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 30, 30)).save(buf, "PNG")
    path = renderer_sheet("demo", [(f"page {i}", buf.getvalue()) for i in range(5)], tmp_path / "s.png", cols=4)
    im = Image.open(path).convert("RGB")
    assert im.size == (4 * 220, 22 + 2 * 183)
    assert im.getpixel((110, 22 + 80)) == (200, 30, 30) and im.getpixel((110, 22 + 183 + 80)) == (200, 30, 30)
    assert im.getpixel((3 * 220 + 110, 22 + 183 + 80)) == (255, 255, 255)  # 5 pages: the last cells stay empty
    empty = Image.open(renderer_sheet("none", [], tmp_path / "e.png"))
    assert empty.size == (4 * 220, 22 + 183)


def test_make_gen_docs_runs_every_registered_renderer_and_writes_the_report():
    recipe = re.search(r"^gen-docs:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe
    gen = next(line for line in recipe.group(1).splitlines() if "gen docs" in line)
    assert "--report" in gen and "--renderers" not in gen  # the default: every renderer in RENDERERS
