"""The paper's benchmarks: where their files come from, how each row becomes a prompt, and which
metric scores it (docs/spec/benchmarks.md).

    items = load_benchmark("chartqa", "data/chartqa")   # -> [BenchItem], prompts ready for any model

A row becomes a :class:`model.examples.Example` in inference form: the user turn carries the
task's style prefix (``chart_qa: ...``), multiple choice is ``question\\nA: opt\\nB: opt\\n`` with the
letter as answer, and ``meta`` holds the ground truth plus ``task`` (the scorer of
:func:`model.metrics.score_example`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.bench_data import (
    BenchmarkDataError,
    hub_download,
    is_shard_dir,
    load_json,
    read_rows,
    resolve_image,
)
from model.examples import Example, ExampleConfig, conversation
from pixmo.formatting import format_options, sample_prompt
from pixmo.formatting.clocks import CLOCK_PROMPT


@dataclass
class BenchItem:
    example: Example  # inference messages, style, meta (ground truth, task)
    image: bytes | str | None  # image bytes or a file path; None: text only
    id: str = ""

    @property
    def prompt(self) -> str:
        """The user text with its style prefix, for models that take plain prompts (endpoints)."""
        return self.example.messages[-1].removeprefix(" User: ").removesuffix(" Assistant:")


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    task: str  # scorer in model.metrics.score_example
    headline: str  # the metric of the paper's table
    max_new_tokens: int  # launch_scripts/utils.py of the reference (PixMo-Count: see docs/spec/benchmarks.md)
    hub: str | None  # Hugging Face dataset id (parquet) for online users
    split: str
    convert: Callable[[dict[str, Any], Path], tuple[str, str, dict[str, Any]]] = field(repr=False)
    in_avg: bool = True  # one of the paper's 11 ("11-avg")
    shard_subset: str | None = None  # toolkit shards of this subset are accepted too


def _answers(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return [a["answer"] if isinstance(a, dict) else str(a) for a in v]


def _mc(question: str, options: list[str], answer_idx: int, style: str = "a_okvqa_mc"):
    return format_options(question, options), style, {"options": list(options), "answer_idx": answer_idx}


# --- one converter per benchmark: row -> (prompt, style, meta) ------------------------------------

def _vqa_row(style: str):
    def conv(row, base):
        answers = _answers(row.get("answers") if "answers" in row else row.get("label", row.get("answer")))
        return row["question"] if "question" in row else row["query"], style, {"answers": answers}
    return conv


def _chartqa(row, base):
    return row["query"] if "query" in row else row["question"], "chart_qa", {"answers": _answers(row.get("label"))}


def _ai2d(row, base):
    options = row.get("options") or row.get("answer_texts")
    answer = row.get("answer", row.get("correct_answer"))
    return _mc(row["question"], list(options), int(answer), style="ai2_diagram")


def _realworldqa(row, base):
    q = row["question"]
    mc = "Please answer directly with a single word or number." not in q
    if not mc:  # the reference's "no_instruction" mode drops the short-answer instruction line
        q = q.split("\n")[0]
    meta = {"answer": row["answer"], "question_type": "multiple_choice" if mc else "short_answer"}
    return q, "a_okvqa_mc" if mc else "vqa2", meta


def _mmmu(row, base):
    mc = row["question_type"] == "multiple-choice"
    meta = {"answer": row["answer"], "question_type": row["question_type"]}
    if not mc:
        return row["question"], "vqa2", meta
    opts = row["options"]
    opts = ast.literal_eval(opts) if isinstance(opts, str) else list(opts)
    meta["options"] = opts
    if sum(re.match("<img='(.*?)'>", str(o)) is not None for o in opts) > 1:
        meta["no_image"] = True  # as the reference (after LLaVA): image options mean no image at all
    return format_options(row["question"], opts), "a_okvqa_mc", meta


def _mathvista(row, base):
    q = row["question"].split("Question:")[-1].split("Hint:")[0].strip()
    meta = {k: row.get(k) for k in ("answer", "precision", "question_type", "answer_type")}
    meta["choices"] = list(row.get("choices") or [])
    if row["question_type"] == "multi_choice":
        return format_options(q, meta["choices"]), "a_okvqa_mc", meta
    return q, "vqa2", meta


def _countbench(row, base):
    count = row.get("count", row.get("number"))
    return row["question"], "point_count", {"count": int(count)}


def _pixmo_count(row, base):
    return "@point_count:" + row["label"], "point_count", {"count": int(row["count"]), "label": row["label"]}


def _points_eval(row, base):
    pts = row.get("points") or []
    if isinstance(pts, dict):
        pts = [{"x": x, "y": y} for x, y in zip(pts["x"], pts["y"], strict=True)]
    masks = [np.asarray(m, dtype=bool) for m in (row.get("masks") or [])]
    meta = {"points": [(float(p["x"]), float(p["y"])) for p in pts], "masks": masks, "label": row["label"]}
    return "@pointing:" + row["label"], "pointing", meta


def _caption(row, base):
    transcripts = [t for t in (row.get("transcripts") or []) if t]
    return "@long_caption:", "long_caption", {"caption": row["caption"], "transcripts": transcripts}


def _clock(is_test: bool):
    def conv(row, base):
        hour, minute = int(row["hour"]), int(row["minute"])
        if is_test and hour == 12:
            hour = 0
        second = int(row["second"]) if row.get("second") is not None and not is_test else -1
        return CLOCK_PROMPT, "clocks", {"hour": hour, "minute": minute, "second": second, "is_test": is_test}
    return conv


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in [
    Benchmark("ai2d", "AI2D", "mc", "accuracy", 12, "lmms-lab/ai2d", "test", _ai2d),
    Benchmark("chartqa", "ChartQA", "relaxed", "relaxed", 12, "HuggingFaceM4/ChartQA", "test", _chartqa),
    Benchmark("vqav2", "VQA v2", "vqa", "vqa", 12, "HuggingFaceM4/VQAv2", "validation", _vqa_row("vqa2")),
    Benchmark("docvqa", "DocVQA", "anls", "anls", 12, "HuggingFaceM4/DocumentVQA", "validation",
              _vqa_row("doc_qa")),
    Benchmark("infovqa", "InfoVQA", "anls", "anls", 12, None, "val", _vqa_row("info_qa")),
    Benchmark("textvqa", "TextVQA", "vqa", "vqa", 12, "facebook/textvqa", "validation", _vqa_row("text_vqa")),
    Benchmark("realworldqa", "RealWorldQA", "real_world_qa", "real_world_qa", 12, "xai-org/RealworldQA", "test",
              _realworldqa),
    Benchmark("mmmu", "MMMU", "mmmu", "mmmu", 12, "MMMU/MMMU", "validation", _mmmu),
    Benchmark("mathvista", "MathVista", "math_vista", "math_vista", 12, "AI4Math/MathVista", "testmini",
              _mathvista),
    Benchmark("countbenchqa", "CountBenchQA", "counting", "correct", 192, "nielsr/countbench", "train",
              _countbench),
    Benchmark("pixmo_count", "PixMo-Count", "counting", "correct", 192, "allenai/pixmo-count", "test",
              _pixmo_count, shard_subset="pixmo-count"),
    Benchmark("pixmo_points_eval", "PixMo-Points-Eval", "pointing", "f1", 192, "allenai/pixmo-points-eval", "test",
              _points_eval, in_avg=False, shard_subset="pixmo-points-eval"),
    Benchmark("clocks", "Clocks (PixMo-Clocks)", "clocks", "overall_close", 12, None, "test", _clock(False),
              in_avg=False, shard_subset="pixmo-clocks"),
    Benchmark("clock_bench", "ClockBench", "clocks", "overall_close", 12, None, "test", _clock(True), in_avg=False),
    Benchmark("pixmo_cap", "Caption F1 (PixMo-Cap)", "caption", "f1", 448, "allenai/pixmo-cap", "train", _caption,
              in_avg=False, shard_subset="pixmo-cap"),
]}
PAPER_SUITE = list(BENCHMARKS)
ELEVEN = [b.name for b in BENCHMARKS.values() if b.in_avg]


def get_benchmark(name: str) -> Benchmark:
    key = name.lower().replace("-", "_")
    if key not in BENCHMARKS:
        raise BenchmarkDataError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[key]


def load_benchmark(name: str, data: str | Path, *, max_examples: int | None = None, seed: int = 0,
                   cfg: ExampleConfig | None = None, split: str | None = None, val_fraction: float = 0.1
                   ) -> list[BenchItem]:
    """Items of benchmark ``name`` from a local file/folder, toolkit shards, or a hub dataset id.

    ``split`` ("val" / "train") keeps that hash split of toolkit shards (``model.data.split_of``
    with ``val_fraction``), e.g. the held-out part of a model's training shards."""
    bench = get_benchmark(name)
    cfg = cfg or ExampleConfig(for_training=False)
    path = Path(data)
    if not path.exists() and "/" in str(data) and not str(data).startswith((".", "/")):
        path = hub_download(str(data), [f"*{bench.split}*.parquet", f"*/{bench.split}/*.parquet"])
    if bench.shard_subset and is_shard_dir(path):
        items = _from_shards(bench, path, cfg, seed, split, val_fraction)
    else:
        rows, base = read_rows(path, split=bench.split)
        rows = _vqav2_join(rows, path) if bench.name == "vqav2" else rows
        items = []
        for i, row in enumerate(rows):
            item = _item(bench, row, base, i, cfg, seed)
            if item is not None:
                items.append(item)
    if not items:
        raise BenchmarkDataError(f"no {bench.title} examples in {data}")
    return items[:max_examples] if max_examples else items


def _item(bench: Benchmark, row: dict[str, Any], base: Path, i: int, cfg: ExampleConfig, seed: int
          ) -> BenchItem | None:
    try:
        prompt, style, meta = bench.convert(row, base)
    except (KeyError, TypeError, ValueError, SyntaxError) as exc:
        raise BenchmarkDataError(f"{bench.title} row {i}: missing or malformed field ({exc!r})") from exc
    rng = np.random.default_rng([seed, i])
    if prompt.startswith("@"):  # a template set of pixmo.formatting with the label
        kind, label = prompt[1:].split(":", 1)
        prompt = sample_prompt(kind, rng, label or None)
    image = None if meta.pop("no_image", False) else resolve_image(row, base)
    if image is None and bench.name != "mmmu":
        raise BenchmarkDataError(f"{bench.title} row {i}: no image found (embedded, by path or by sha256)")
    meta["task"] = bench.task
    if image is not None:
        meta["image_size"] = _image_size(image)
    ex = Example(conversation(style, [(prompt, None)], rng, cfg), style, bench.name, _answer_of(meta), meta)
    return BenchItem(ex, image, str(row.get("question_id", row.get("questionId", row.get("id", i)))))


def _image_size(image: bytes | str) -> tuple[int, int]:
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(image) if isinstance(image, bytes) else image) as im:
            return im.size
    except (OSError, ValueError) as exc:
        raise BenchmarkDataError(f"unreadable image ({exc})") from exc


def _answer_of(meta: dict[str, Any]) -> str | None:
    if "answer_idx" in meta:
        return chr(ord("A") + meta["answer_idx"])
    for k in ("answer", "count"):
        if k in meta:
            return str(meta[k])
    if meta.get("answers"):
        return meta["answers"][0]
    if "hour" in meta:
        return f"{meta['hour']}:{meta['minute']:02d}"
    return None


def _vqav2_join(rows: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    """The original VQA v2 release: a questions file plus an annotations file (answers) and COCO
    images named ``COCO_val2014_{image_id:012d}.jpg``; parquet copies pass through."""
    if not path.is_dir() or not list(path.glob("*annotations*.json")):
        return rows
    ann = load_json(next(iter(sorted(path.glob("*annotations*.json")))))
    by_q = {a["question_id"]: a for a in ann.get("annotations", [])}
    questions = load_json(next(iter(sorted(path.glob("*questions*.json"))))).get("questions", [])
    out = []
    for q in questions:
        a = by_q.get(q["question_id"])
        if a is not None:
            out.append({**q, "answers": a["answers"], "image": f"COCO_val2014_{q['image_id']:012d}.jpg"})
    return out


def _from_shards(bench: Benchmark, path: Path, cfg: ExampleConfig, seed: int, split: str | None,
                 val_fraction: float) -> list[BenchItem]:
    """Examples of the toolkit's own shards (``pixmo.shards``) for the PixMo benchmarks."""
    from dataclasses import replace

    from model.data import split_of
    from model.examples import sample_to_examples
    from pixmo.shards import iter_samples

    style = {"counting": "point_count", "pointing": "pointing"}.get(bench.task)
    items = []
    for n, sample in enumerate(iter_samples(path)):
        if split is not None and split_of(sample.key, val_fraction) != split:
            continue
        rng = np.random.default_rng([seed, n])
        for ex in sample_to_examples(sample, rng, cfg=replace(cfg, for_training=False), style=style):
            if ex.subset != bench.shard_subset:
                continue
            ex.meta["task"] = bench.task
            items.append(BenchItem(ex, sample.image, sample.key))
    return items
