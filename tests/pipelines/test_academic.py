"""`pixmo import-academic`: academic sets in their published layouts -> academic-qa shards -> Molmo
conversations with the set's style prefix and answer format -> `pixmo mix`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "model"))
from bench_fixtures import png, write_benchmarks  # noqa: E402

from model.examples import ExampleConfig, sample_to_examples  # noqa: E402
from pipelines.cli import app  # noqa: E402
from pixmo.shards import iter_samples, read_manifest  # noqa: E402
from pixmo.validate import validate_dir  # noqa: E402

runner = CliRunner()


def _json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _more_sets(r: Path) -> dict[str, Path]:
    """A-OKVQA (JSON + COCO 2017 images), ScienceQA (parquet, one text-only row), TallyQA (JSON + Visual
    Genome folders), FigureQA (qa_pairs + png/), DVQA (JSON + images/)."""
    _json(r / "aokvqa/aokvqa_v1p0_train.json", [
        {"question_id": "q1", "image_id": 7, "question": "What is the man holding?",
         "choices": ["bat", "ball", "kite", "bat"], "correct_choice_idx": 3,
         "direct_answers": ["bat", "bat", "stick", "bat", "club", "bat", "bat", "bat", "bat", "bat"]}])
    (r / "aokvqa/train2017").mkdir(parents=True)
    (r / "aokvqa/train2017/000000000007.jpg").write_bytes(png(201))
    pq.write_table(pa.Table.from_pylist([
        {"image": {"bytes": png(202), "path": None}, "question": "Which is a mammal?",
         "choices": ["shark", "whale"], "answer": 1, "hint": ""},
        {"image": None, "question": "Which word rhymes?", "choices": ["cat", "dog"], "answer": 0, "hint": ""}]),
        _mk(r / "scienceqa/data/train-00000-of-00001.parquet"))
    _json(r / "tallyqa/train.json", [
        {"image": "VG_100K/1.jpg", "question": "How many zebras?", "answer": 3, "image_id": 1},
        {"image": "VG_100K/1.jpg", "question": "How many trees?", "answer": 0, "image_id": 1}])
    (r / "tallyqa/VG_100K").mkdir(parents=True)
    (r / "tallyqa/VG_100K/1.jpg").write_bytes(png(203))
    _json(r / "figureqa/train1/qa_pairs.json", {"qa_pairs": [
        {"image_index": 0, "question_string": "Is Red the minimum?", "answer": 1, "question_id": 0},
        {"image_index": 0, "question_string": "Is Blue the maximum?", "answer": 0, "question_id": 1}]})
    (r / "figureqa/train1/png").mkdir(parents=True)
    (r / "figureqa/train1/png/0.png").write_bytes(png(204))
    _json(r / "dvqa/train_qa.json", [{"image": "bar_train_00000000.png", "question": "What is the label?",
                                      "answer": "cafe", "question_id": 1}])
    _json(r / "plotqa/train/qa_pairs_V2.json", {"qa_pairs": [
        {"image_index": 3, "question_string": "How many bars are there?", "answer": 1, "question_id": 0}]})
    (r / "plotqa/train/png").mkdir(parents=True)
    (r / "plotqa/train/png/3.png").write_bytes(png(206))
    (r / "dvqa/images").mkdir(parents=True)
    (r / "dvqa/images/bar_train_00000000.png").write_bytes(png(205))
    return {"a_okvqa_mc": r / "aokvqa", "a_okvqa_da": r / "aokvqa", "science_qa": r / "scienceqa",
            "tally_qa": r / "tallyqa", "figure_qa": r / "figureqa/train1",
            "plot_qa": r / "plotqa/train", "dv_qa": r / "dvqa"}


def _mk(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("academic")
    bench = write_benchmarks(root / "bench")
    out = {"vqa2": Path(bench["vqav2"]), "text_vqa": Path(bench["textvqa"]), "chart_qa": Path(bench["chartqa"]),
           "doc_qa": Path(bench["docvqa"]), "info_qa": Path(bench["infovqa"]), "ai2_diagram": Path(bench["ai2d"])}
    out.update(_more_sets(root / "more"))
    return out


# set -> (expected number of questions, first user turn prefix, expected target of the first example)
EXPECTED = {
    "vqa2": (2, "vqa2: ", {" red", " 2"}),
    "text_vqa": (2, "text_vqa: ", {" coca cola"}),
    "chart_qa": (2, "chart_qa: ", {" 45", " 2019"}),
    "doc_qa": (2, "doc_qa: ", {" INV-000", " INV-100"}),
    "info_qa": (2, "info_qa: ", {" 30%", " 31%"}),
    "ai2_diagram": (2, "ai2_diagram: ", {" B"}),
    "a_okvqa_mc": (1, "a_okvqa_mc: ", {" D"}),
    "a_okvqa_da": (1, "a_okvqa_da: ", {" bat"}),
    "science_qa": (1, "science_qa: ", {" B"}),
    "tally_qa": (2, "tally_qa: ", {" 3", " 0"}),
    "figure_qa": (2, "figure_qa: ", {" yes", " no"}),
    "plot_qa": (1, "plot_qa: ", {" 1"}),  # a number, not FigureQA's 1 = yes
    "dv_qa": (1, "dv_qa: ", {" cafe"}),
}


def _import(name: str, src: Path, out: Path, *extra: str):
    return runner.invoke(app, ["import-academic", name, str(src), "--out", str(out), *extra])


@pytest.mark.parametrize("name", list(EXPECTED))
def test_import_validates_and_formats_with_style_and_answer_format(name, sources, tmp_path):
    n, prefix, targets = EXPECTED[name]
    out = tmp_path / name
    res = _import(name, sources[name], out)
    assert res.exit_code == 0, res.output
    rep = validate_dir(out)
    assert rep.ok, rep.to_json()
    samples = list(iter_samples(out))
    exs = [e for s in samples for e in sample_to_examples(s, np.random.default_rng(0), cfg=ExampleConfig())]
    assert len(exs) == n
    for e in exs:
        assert e.subset == "academic-qa"
        assert e.messages[0].startswith(" User: " + prefix), e.messages[0]
        assert e.messages[1] in targets, e.messages[1]
    recs = [a.record for s in samples for a in s.annotations]
    assert {r.source_set for r in recs} == {name}


def test_vqa_keeps_every_annotator_answer_and_targets_the_most_frequent(sources, tmp_path):
    out = tmp_path / "aok"
    assert _import("a_okvqa_da", sources["a_okvqa_da"], out).exit_code == 0
    (s,) = iter_samples(out)
    rec = s.annotations[0].record
    assert len(rec.answers) == 10 and "club" in rec.answers
    (e,) = sample_to_examples(s, np.random.default_rng(0))
    assert e.answer == "bat" and e.meta["answers"] == rec.answers


def test_multiple_choice_lists_options_and_repeated_text_keeps_the_right_letter(sources, tmp_path):
    out = tmp_path / "mc"
    assert _import("a_okvqa_mc", sources["a_okvqa_mc"], out).exit_code == 0
    (s,) = iter_samples(out)
    (e,) = sample_to_examples(s, np.random.default_rng(0))
    assert e.messages[0] == " User: a_okvqa_mc: What is the man holding?\nA: bat\nB: ball\nC: kite\nD: bat\n" \
                            " Assistant:"
    assert e.messages[1] == " D"  # the 4th option, although "bat" is also option A


def test_questions_of_one_image_share_a_sample_and_text_only_rows_are_reported(sources, tmp_path):
    res = _import("tally_qa", sources["tally_qa"], tmp_path / "t")
    assert res.exit_code == 0 and "2 questions on 1 images" in res.output
    res = _import("science_qa", sources["science_qa"], tmp_path / "s")
    assert res.exit_code == 0 and "skipped 1 of 2 rows without an image" in res.output


def test_existing_set_is_refused_unless_overwrite_or_append(sources, tmp_path):
    out = tmp_path / "v"
    assert _import("vqa2", sources["vqa2"], out).exit_code == 0
    before = read_manifest(out)
    res = _import("text_vqa", sources["text_vqa"], out)
    assert res.exit_code != 0
    assert read_manifest(out) == before
    assert _import("text_vqa", sources["text_vqa"], out, "--append").exit_code == 0
    assert read_manifest(out)["num_samples"] == 4
    assert _import("text_vqa", sources["text_vqa"], out, "--overwrite").exit_code == 0
    assert read_manifest(out)["num_samples"] == 2


def test_bad_input_is_one_line_and_nonzero(sources, tmp_path):
    res = _import("nosuch", sources["vqa2"], tmp_path / "x")
    assert res.exit_code == 2 and "unknown academic set" in res.output
    res = _import("ai2_diagram", sources["tally_qa"], tmp_path / "y")  # wrong layout for the set
    assert res.exit_code == 2 and "AI2D row 0: missing or malformed field" in res.output
    assert not (tmp_path / "y").exists()


def test_mix_over_two_imported_sets(sources, tmp_path):
    for name in ("chart_qa", "ai2_diagram"):
        assert _import(name, sources[name], tmp_path / name).exit_code == 0
    cfg = tmp_path / "mix.json"
    cfg.write_text(json.dumps({"sources": [{"name": "chart_qa", "path": str(tmp_path / "chart_qa")},
                                           {"name": "ai2d", "path": str(tmp_path / "ai2_diagram")}]}))
    out = tmp_path / "mixed"
    res = runner.invoke(app, ["mix", str(cfg), "--out", str(out), "--num", "40"])
    assert res.exit_code == 0, res.output
    assert validate_dir(out).ok
    prefixes = set()
    for s in iter_samples(out):
        for e in sample_to_examples(s, np.random.default_rng(0)):
            prefixes.add(e.messages[0].removeprefix(" User: ").split(":")[0])
    assert prefixes == {"chart_qa", "ai2_diagram"}
