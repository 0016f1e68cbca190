"""Academic fine-tuning sets -> toolkit shards of ``academic-qa`` records (docs/spec/benchmarks.md section 4).

    summary = import_academic("vqa2", "data/vqav2_train", Path("shards/vqa2"))

Each set is read from its published files with the benchmark readers of ``model.bench_data`` (parquet
as on the Hugging Face hub, or the original JSON releases with their image folders); every row becomes
one record with the set's style tag, every annotator's answer, and for multiple choice the options and
the correct index. Questions about the same image share one sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.bench_data import BenchmarkDataError, find_file, read_rows, resolve_image
from model.benchmarks import _vqav2_join
from pixmo.records import AcademicQA, RecordError, parse_record
from pixmo.shards import Annotation, Sample, ShardWriter, sha256_hex

Fields = tuple[str, list[str], list[str], int | None]  # question, answers, options, answer_idx


class AcademicImportError(ValueError):
    """The files of an academic set are not in a published layout (one line for the user)."""


def _answers(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str | int | float | bool):
        return [str(v)]
    return [str(a["answer"]) if isinstance(a, dict) else str(a) for a in v]


def _first(row: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if row.get(k) is not None:
            return row[k]
    raise KeyError(keys[0])


def _qa(row: dict[str, Any]) -> Fields:
    """Open questions: VQA v2 / OK-VQA (answer dicts), TextVQA / ST-VQA / DocVQA / InfoVQA (answer lists),
    ChartQA (``query`` + ``label``), TallyQA / DVQA (one ``answer``), FigureQA / PlotQA (``question_string``)."""
    q = _first(row, "question", "query", "question_string")
    answers = _answers(_first(row, "answers", "label", "answer", "direct_answers"))
    return str(q), answers, [], None


def _figure_qa(row: dict[str, Any]) -> Fields:
    """FigureQA answers are 1 (yes) or 0 (no)."""
    return str(row["question_string"]), ["yes" if int(row["answer"]) else "no"], [], None


def _ai2d(row: dict[str, Any]) -> Fields:
    options = list(_first(row, "options", "answer_texts"))
    return str(row["question"]), [], [str(o) for o in options], int(_first(row, "answer", "correct_answer"))


def _aokvqa_mc(row: dict[str, Any]) -> Fields:
    return str(row["question"]), [], [str(c) for c in row["choices"]], int(row["correct_choice_idx"])


def _aokvqa_da(row: dict[str, Any]) -> Fields:
    return str(row["question"]), _answers(row["direct_answers"]), [], None


def _science_qa(row: dict[str, Any]) -> Fields:
    return str(row["question"]), [], [str(c) for c in row["choices"]], int(row["answer"])


@dataclass(frozen=True)
class AcademicSet:
    name: str  # the NAME of `pixmo import-academic`, also the style tag
    title: str
    convert: Callable[[dict[str, Any]], Fields]
    list_keys: tuple[str, ...] = ("data",)
    coco_images: bool = False  # images named by a COCO image_id (VQA v2, OK-VQA, A-OKVQA)


ACADEMIC_SETS: dict[str, AcademicSet] = {s.name: s for s in [
    AcademicSet("vqa2", "VQA v2", _qa, coco_images=True),
    AcademicSet("okvqa", "OK-VQA", _qa, coco_images=True),
    AcademicSet("text_vqa", "TextVQA", _qa),
    AcademicSet("st_qa", "ST-VQA", _qa),
    AcademicSet("chart_qa", "ChartQA", _qa),
    AcademicSet("doc_qa", "DocVQA", _qa),
    AcademicSet("info_qa", "InfoVQA", _qa),
    AcademicSet("ai2_diagram", "AI2D", _ai2d),
    AcademicSet("a_okvqa_mc", "A-OKVQA (multiple choice)", _aokvqa_mc, coco_images=True),
    AcademicSet("a_okvqa_da", "A-OKVQA (direct answer)", _aokvqa_da, coco_images=True),
    AcademicSet("science_qa", "ScienceQA (questions with an image)", _science_qa),
    AcademicSet("tally_qa", "TallyQA", _qa),
    AcademicSet("dv_qa", "DVQA", _qa),
    AcademicSet("figure_qa", "FigureQA", _figure_qa, list_keys=("qa_pairs",)),
    AcademicSet("plot_qa", "PlotQA", _qa, list_keys=("qa_pairs",)),
]}
# OK-VQA keeps its own name in the mixture but is prompted like VQA v2 (docs/spec/benchmarks.md 4).
STYLE_OF = {"okvqa": "vqa2"}


def get_set(name: str) -> AcademicSet:
    key = name.lower().replace("-", "_")
    if key not in ACADEMIC_SETS:
        raise AcademicImportError(f"unknown academic set {name!r}; known: {', '.join(ACADEMIC_SETS)}")
    return ACADEMIC_SETS[key]


def _image(row: dict[str, Any], base: Path, coco: bool) -> tuple[bytes, str] | None:
    found = resolve_image(row, base, keys=("image", "imgname", "image_path", "image_local_name", "file_path"))
    if found is None and "image_index" in row:  # FigureQA / PlotQA: png/{image_index}.png
        found = find_file(base, f"png/{row['image_index']}.png") or find_file(base, f"{row['image_index']}.png")
    if found is None and "imgname" in row:  # ChartQA's release: png/{imgname}
        found = find_file(base, f"png/{row['imgname']}")
    if found is None and coco and row.get("image_id") is not None:  # COCO 2014 / 2017 file names
        iid = int(row["image_id"])
        for name in (f"{iid:012d}.jpg", f"COCO_train2014_{iid:012d}.jpg", f"COCO_val2014_{iid:012d}.jpg"):
            found = find_file(base, name) or _find_below(base, name)
            if found:
                break
    if found is None:
        return None
    if isinstance(found, bytes):
        return found, ""
    return Path(found).read_bytes(), str(Path(found).relative_to(base)) if found.startswith(str(base)) else found


def _find_below(base: Path, name: str) -> str | None:
    for d in ("train2014", "val2014", "train2017", "val2017", "images"):
        f = base / d / name
        if f.is_file():
            return str(f)
    return None


def _image_ref(row: dict[str, Any]) -> str:
    for k in ("image", "imgname", "image_path", "image_local_name", "file_path", "image_index", "image_id"):
        v = row.get(k)
        if isinstance(v, str | int) and not isinstance(v, bool):
            return f"{k}:{v}"
    return ""  # embedded images: keep the published order


def read_set(name: str, path: str | Path) -> tuple[list[dict[str, Any]], Path]:
    s = get_set(name)
    try:
        rows, base = read_rows(path, list_keys=s.list_keys)
    except BenchmarkDataError as exc:
        raise AcademicImportError(str(exc)) from None
    if s.coco_images and s.name in ("vqa2", "okvqa"):
        rows = _vqav2_join(rows, Path(path))
    return rows, base


def import_academic(name: str, path: str | Path, out: Path, *, mode: str = "new", per_shard: int = 1000,
                    limit: int | None = None) -> dict[str, Any]:
    """Write the set's rows as shards of ``academic-qa`` records; returns counts (rows, records, samples,
    skipped rows without an image). Refuses a set already at ``out`` unless ``mode`` says otherwise."""
    s = get_set(name)
    rows, base = read_set(name, path)
    rows = rows[:limit] if limit else rows
    if not rows:
        raise AcademicImportError(f"no {s.title} rows in {path}")
    rows = sorted(rows, key=_image_ref)  # questions of one image side by side: one sample each
    style = STYLE_OF.get(s.name, s.name)
    records, no_image, keys = 0, 0, set()
    config = {"academic_set": s.name, "source": str(path), "limit": limit}
    with ShardWriter(out, dataset=f"academic-{s.name}", max_count=per_shard, config=config, mode=mode) as w:
        for i, row in enumerate(rows):
            try:
                question, answers, options, answer_idx = s.convert(row)
            except (KeyError, TypeError, ValueError) as exc:
                raise AcademicImportError(f"{s.title} row {i}: missing or malformed field ({exc!r})") from None
            img = _image(row, base, s.coco_images)
            if img is None:
                no_image += 1  # e.g. ScienceQA's text-only questions: the paper trains on those with an image
                continue
            data, url = img
            try:
                rec = parse_record(AcademicQA.SUBSET, {
                    "image_url": url, "image_sha256": sha256_hex(data), "style": style, "question": question,
                    "answers": answers, "options": options, "answer_idx": answer_idx, "source_set": s.name})
            except RecordError as exc:
                raise AcademicImportError(f"{s.title} row {i}: {exc}") from None
            sample = Sample(image=data, annotations=[Annotation.of(rec, source=s.name, row=i)], image_url=url)
            keys.add(sample.key)
            w.write(sample)
            records += 1
        if not records:
            raise AcademicImportError(f"none of the {len(rows)} {s.title} rows in {path} has an image "
                                      "(embedded, or a file in the folder of the data files)")
    return {"set": s.name, "style": style, "rows": len(rows), "records": records, "images": len(keys),
            "no_image": no_image}
