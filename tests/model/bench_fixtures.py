"""Tiny benchmark files in each benchmark's published layout (docs/spec/benchmarks.md), with the
answer a perfect model would give for every prompt (``ANSWERS``: prompt text -> answer)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image


def png(seed: int, size=(64, 48)) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _parquet(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def _json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _img(seed: int) -> dict:
    return {"bytes": png(seed), "path": f"{seed}.png"}


def _stored_png(images: Path, seed: int) -> str:
    """Write a PNG as ``images/<sha256>.png`` (the published layout) and return its sha256."""
    data = png(seed)
    sha = hashlib.sha256(data).hexdigest()
    images.mkdir(parents=True, exist_ok=True)
    (images / f"{sha}.png").write_bytes(data)
    return sha


def write_benchmarks(root: Path) -> dict[str, str]:
    """Two examples per benchmark under ``root/<name>``; returns {name: folder}."""
    r = Path(root)
    _parquet(r / "ai2d/data/test-00000-of-00001.parquet", [
        {"question": f"Which label is the leaf {i}?", "options": ["stem", "leaf", "root", "flower"], "answer": "1",
         "image": _img(10 + i)} for i in range(2)])
    _parquet(r / "chartqa/data/test-00000-of-00001.parquet", [
        {"image": _img(20), "query": "What is the peak value?", "label": ["45"], "human_or_machine": 0},
        {"image": _img(21), "query": "Which year is highest?", "label": ["2019"], "human_or_machine": 1}])
    qs = [{"image_id": 1, "question": "What color is the bus?", "question_id": 10},
          {"image_id": 2, "question": "How many dogs?", "question_id": 20}]
    anns = [{"image_id": 1, "question_id": 10, "answers": [{"answer": "red", "answer_id": k} for k in range(10)]},
            {"image_id": 2, "question_id": 20, "answers": [{"answer": "2", "answer_id": k} for k in range(10)]}]
    _json(r / "vqav2/v2_OpenEnded_mscoco_val2014_questions.json", {"questions": qs})
    _json(r / "vqav2/v2_mscoco_val2014_annotations.json", {"annotations": anns})
    for q in qs:
        (r / "vqav2/val2014").mkdir(parents=True, exist_ok=True)
        (r / f"vqav2/val2014/COCO_val2014_{q['image_id']:012d}.jpg").write_bytes(png(30 + q["image_id"]))
    _json(r / "docvqa/val_v1.0.json", {"dataset_split": "val", "data": [
        {"questionId": i, "question": f"What is the invoice number {i}?", "image": f"documents/doc{i}.png",
         "answers": [f"INV-{i}00"], "docId": i} for i in range(2)]})
    for i in range(2):
        (r / "docvqa/documents").mkdir(parents=True, exist_ok=True)
        (r / f"docvqa/documents/doc{i}.png").write_bytes(png(40 + i))
    _json(r / "infovqa/infographicsVQA_val_v1.0_withQT.json", {"data": [
        {"questionId": i, "question": f"What percent voted {i}?", "image_local_name": f"info{i}.jpeg",
         "answers": [f"{30 + i}%"]} for i in range(2)]})
    for i in range(2):
        (r / "infovqa/images").mkdir(parents=True, exist_ok=True)
        (r / f"infovqa/images/info{i}.jpeg").write_bytes(png(50 + i))
    _json(r / "textvqa/TextVQA_0.5.1_val.json", {"dataset_name": "textvqa", "data": [
        {"question": f"What brand is shown {i}?", "image_id": f"img{i}", "question_id": i,
         "answers": ["coca cola"] * 10} for i in range(2)]})
    for i in range(2):
        (r / "textvqa/train_images").mkdir(parents=True, exist_ok=True)
        (r / f"textvqa/train_images/img{i}.jpg").write_bytes(png(60 + i))
    _parquet(r / "realworldqa/data/test-00000-of-00001.parquet", [
        {"image": _img(70), "answer": "B", "question": "Which way is the car going?\nA. left\nB. right\nC. back\n"
         "Please answer directly with only the letter of the correct option and nothing else."},
        {"image": _img(71), "answer": "3", "question": "How many lanes are there?\n"
         "Please answer directly with a single word or number."}])
    _parquet(r / "mmmu/Art/validation-00000-of-00001.parquet", [
        {"id": "validation_Art_1", "question": "<image 1> Which style is this?", "options": "['Baroque', 'Cubism']",
         "answer": "B", "image_1": _img(80), "question_type": "multiple-choice"},
        {"id": "validation_Art_2", "question": "<image 1> In which year was it painted?", "options": "[]",
         "answer": "1907", "image_1": _img(81), "question_type": "open"},
        {"id": "validation_Art_3", "question": "Which painting is by Picasso?", "image_1": _img(82),
         "options": "[\"<img='a.png'>\", \"<img='b.png'>\"]", "answer": "A", "question_type": "multiple-choice"}])
    _parquet(r / "mathvista/data/testmini-00000-of-00001.parquet", [
        {"pid": "1", "question": "Hint: look closely.\nQuestion: Which shape is larger?", "decoded_image": _img(90),
         "choices": ["circle", "square"], "precision": None, "answer": "square", "question_type": "multi_choice",
         "answer_type": "text"},
        {"pid": "2", "question": "What is the length of the bar?", "decoded_image": _img(91), "choices": None,
         "precision": None, "answer": "12", "question_type": "free_form", "answer_type": "integer"}])
    _parquet(r / "countbenchqa/data/train-00000-of-00001.parquet", [
        {"image": _img(100 + i), "question": f"How many birds are there {i}?", "number": 3 + i,
         "image_url": f"http://x/{i}.jpg", "text": "birds"} for i in range(2)])
    rows = []
    for i in range(2):
        sha = _stored_png(r / "pixmo_count/images", 110 + i)
        rows.append({"image_url": f"http://x/c{i}.jpg", "image_sha256": sha, "count": 2 + i, "label": "apples",
                     "points": {"x": [], "y": []}})
    _parquet(r / "pixmo_count/data/test-00000-of-00001.parquet", rows)
    rows = []
    for i in range(2):
        sha = _stored_png(r / "pixmo_points_eval/images", 120 + i)
        mask = np.zeros((48, 64), bool)
        mask[10:30, 20:40] = True  # the point (46.9%, 41.7%) = pixel (30, 20) lies inside
        rows.append({"image_url": f"http://x/p{i}.jpg", "image_sha256": sha, "label": "cups",
                     "points": [{"x": 46.9, "y": 41.7}], "masks": [mask.tolist()]})
    _parquet(r / "pixmo_points_eval/data/test-00000-of-00001.parquet", rows)
    _parquet(r / "clocks/data/test-00000-of-00001.parquet", [
        {"image": _img(130), "hour": 7, "minute": 40, "second": 12},
        {"image": _img(131), "hour": 0, "minute": 5, "second": None}])
    _parquet(r / "clock_bench/data/test-00000-of-00001.parquet", [
        {"image": _img(140), "hour": 12, "minute": 30}, {"image": _img(141), "hour": 3, "minute": 15}])
    rows = []
    for i, cap in enumerate(["A red square. A blue circle.", "A green tree."]):
        sha = _stored_png(r / "pixmo_cap/images", 150 + i)
        rows.append({"image_url": f"http://x/cap{i}.jpg", "image_sha256": sha, "caption": cap, "transcripts": [cap]})
    _parquet(r / "pixmo_cap/data/train-00000-of-00001.parquet", rows)
    return {p.name: str(p) for p in sorted(r.iterdir()) if p.is_dir()}


def perfect_answer(item) -> str:
    """What a perfect model answers, read from the item's ground truth."""
    m = item.example.meta
    task = m["task"]
    if task == "mc":
        return chr(ord("A") + m["answer_idx"])
    if task == "counting":
        return f"Counting the <points x1=\"1.0\" y1=\"1.0\" alt=\"x\">x</points> shows a total of {m['count']}."
    if task == "pointing":
        return "".join(f'<point x="{x:.1f}" y="{y:.1f}" alt="a">a</point>' for x, y in m["points"])
    if task == "clocks":
        s = f":{m['second']:02d}" if m["second"] >= 0 else ""
        return f"The time shown is {m['hour'] or 12}:{m['minute']:02d}{s}"
    if task == "math_vista" and m["question_type"] == "multi_choice":
        return chr(ord("A") + m["choices"].index(m["answer"]))
    if task == "caption":
        return m["caption"]
    if task in ("real_world_qa", "mmmu", "math_vista"):
        return m["answer"]
    return m["answers"][0]


def write_tiny_llava(out: Path) -> Path:
    """A randomly initialised two-layer LLaVA (CLIP + Llama) with a character-level tokenizer,
    saved as a Hugging Face model folder: a transformers checkpoint built offline."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    words = ["<pad>", "<s>", "</s>", "<unk>", "<image>"] + [chr(c) for c in range(32, 127)]
    vocab = {w: i for i, w in enumerate(words)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                  unk_token="<unk>")
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    proc = LlavaProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 28},
                                                             crop_size={"height": 28, "width": 28}),
                          tokenizer=tok, patch_size=14, vision_feature_select_strategy="default",
                          image_token="<image>", num_additional_image_tokens=1)
    cfg = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                       num_attention_heads=2, image_size=28, patch_size=14),
        text_config=LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                num_key_value_heads=2, vocab_size=len(vocab) + 1, max_position_embeddings=256,
                                pad_token_id=0, bos_token_id=1, eos_token_id=2),
        image_token_index=vocab["<image>"], vision_feature_layer=-1, vision_feature_select_strategy="default")
    torch.manual_seed(0)
    LlavaForConditionalGeneration(cfg).save_pretrained(out)
    proc.save_pretrained(out)
    return out
