"""A tiny Molmo trained from scratch on CPU learns a visual task: loss falls, held-out accuracy > chance.

The shards are made here (images with 1-4 coloured dots, two ask-model-anything questions per
image: how many dots, which colour), written with `pixmo.shards` like every generator's output,
and read back through the data side (`model.data`), so the whole path is exercised.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from model.evaluate import evaluate
from model.train import TrainConfig, train
from pixmo.records import PixmoAskModelAnything
from pixmo.shards import Annotation, Sample, write_samples

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (40, 60, 220), "yellow": (230, 210, 20)}


def dot_image(rng: np.random.Generator, n: int, colour: str, size: int = 112) -> bytes:
    im = Image.new("RGB", (size, size), (128, 128, 128))
    draw = ImageDraw.Draw(im)
    cells = rng.permutation(9)[:n]  # one dot per cell of a 3x3 grid: never overlapping
    for c in cells:
        cx, cy = (c % 3) * size // 3 + size // 6, (c // 3) * size // 3 + size // 6
        r = int(rng.integers(9, 13))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=COLOURS[colour])
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def make_dot_shards(out: Path, n_images: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_images):
        n, colour = int(rng.integers(1, 5)), str(rng.choice(list(COLOURS)))
        data = dot_image(rng, n, colour)
        sha = hashlib.sha256(data).hexdigest()
        url = f"https://example.invalid/{sha[:12]}.png"
        qa = [("How many dots are there?", str(n)), ("What color are the dots?", colour)]
        anns = [Annotation(PixmoAskModelAnything.SUBSET,
                           PixmoAskModelAnything(image_url=url, image_sha256=sha, question=q, answer=a))
                for q, a in qa]
        samples.append(Sample(image=data, annotations=anns, image_url=url))
    write_samples(out, samples, dataset="dots", durable=False)
    return out


def learning_config(shards: Path, out: Path, steps: int) -> TrainConfig:
    return TrainConfig.from_dict({
        "model": "tiny", "tokenizer": "tiny", "train_shards": [str(shards)], "holdout_fraction": 0.15,
        "out_dir": str(out), "seq_len": 96, "global_batch_size": 16, "micro_batch_size": 16,
        "max_steps": steps, "log_every": 25, "tensorboard": True, "resume": False,
        "optim": {"connector_lr": 3e-3, "vit_lr": 2e-3, "llm_lr": 2e-3, "connector_warmup": 10,
                  "vit_warmup": 10, "llm_warmup": 10},
        "eval_examples": 48, "max_new_tokens": 4, "example_style": "style",
    })


def test_tiny_molmo_learns_dots_on_cpu(tmp_path):
    shards = make_dot_shards(tmp_path / "dots", 400)
    result = train(learning_config(shards, tmp_path / "run", steps=80))
    losses = [h["loss"] for h in result["history"]]
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10]), losses
    ev = result["eval"]
    assert ev["n"] >= 40
    assert ev["accuracy"] > 0.25 + 0.1, ev  # chance: 1/4 for both questions
    assert Path(result["curve"]).stat().st_size > 0
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["accuracy"] == ev["accuracy"]
    # the saved checkpoint, evaluated from disk the way `pixmo model eval` does, gives the same answers
    again = evaluate(tmp_path / "run", [str(shards)], split="val", max_examples=48, max_new_tokens=4)
    assert again["accuracy"] == ev["accuracy"]
