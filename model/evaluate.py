"""Evaluate a Molmo checkpoint on shards: generate answers, score them with `model.metrics`.

    evaluate("out/model/tiny", ["out/count"], split="val") -> {"counting/correct": 0.6, ..., "n": 64}

Examples are built for inference (the last assistant turn removed, its text kept as ground
truth), generated greedily in batches with the KV cache, and grouped by task
(`model.metrics.task_of`) so every task reports its own metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from model.generate import generate_text


def eval_loader(model, tokenizer, shards: list[str], *, split: str | None, val_fraction: float = 0.1,
                seq_len: int = 512, batch_size: int = 8, seed: int = 0, style_kind: str = "demo_or_style"):
    from model.data import build_dataloader
    from model.examples import ExampleConfig

    return build_dataloader(
        list(shards), tokenizer, model.cfg.preprocess_config(tokenizer), seq_len=seq_len, batch_size=batch_size,
        seed=seed, packing=False, epochs=1, split=split, val_fraction=val_fraction, with_meta=True,
        pad_to_seq_len=False, examples=ExampleConfig(for_training=False, style_kind=style_kind),
    )


@torch.no_grad()
def evaluate_model(model, tokenizer, shards: list[str], *, split: str | None = None, max_examples: int = 64,
                   max_new_tokens: int = 24, batch_size: int = 8, val_fraction: float = 0.1,
                   seq_len: int = 512, return_outputs: bool = False, metrics_mode: str = "official",
                   **kw: Any) -> dict[str, Any]:
    from model.metrics import evaluate as score
    from model.metrics import task_of

    outputs, examples = [], []
    for batch in eval_loader(model, tokenizer, shards, split=split, val_fraction=val_fraction, seq_len=seq_len,
                             batch_size=batch_size, **kw):
        meta = batch.pop("meta")
        outputs += generate_text(model, tokenizer, batch, max_new_tokens=max_new_tokens)
        examples += [m[0] for m in meta]
        if len(examples) >= max_examples:
            break
    outputs, examples = outputs[:max_examples], examples[:max_examples]
    if not examples:
        raise ValueError(f"no evaluation examples in {shards} (split={split})")
    result: dict[str, Any] = {"n": len(examples)}
    for task in sorted({task_of(e) for e in examples}):
        idx = [i for i, e in enumerate(examples) if task_of(e) == task]
        for k, v in score([outputs[i] for i in idx], [examples[i] for i in idx], task, mode=metrics_mode).items():
            result[f"{task}/{k}"] = v
    result["accuracy"] = headline(result)
    if return_outputs:
        result["outputs"] = [{"output": o, "answer": e.answer, "style": e.style} for o, e in zip(outputs, examples,
                                                                                                 strict=True)]
    return result


HEADLINE = ("correct", "overall_exact", "exact", "vqa", "anls", "relaxed", "accuracy", "f1")


def headline(result: dict[str, Any]) -> float:
    """One number: the mean of each task's main metric, weighted by its example count."""
    total, n = 0.0, 0
    for key, v in result.items():
        task, _, metric = key.partition("/")
        if metric in HEADLINE and f"{task}/n" in result and _first_headline(result, task) == metric:
            total += v * result[f"{task}/n"]
            n += int(result[f"{task}/n"])
    return total / n if n else 0.0


def _first_headline(result: dict[str, Any], task: str) -> str | None:
    return next((m for m in HEADLINE if f"{task}/{m}" in result), None)


def evaluate(ckpt: str | Path, shards: list[str], *, split: str | None = None, device: str = "cpu",
             tokenizer: str | None = None, **kw: Any) -> dict[str, Any]:
    """Load a training checkpoint (file or run directory) and evaluate it on `shards`."""
    from model.checkpoint import load_model
    from model.data import load_tokenizer

    model = load_model(ckpt, device)
    tc = getattr(model, "train_config", None) or {}
    tok = load_tokenizer(tokenizer or tc.get("tokenizer", "tiny"))
    if "val_fraction" not in kw and tc.get("holdout_fraction"):
        kw["val_fraction"] = tc["holdout_fraction"]
    kw.setdefault("seq_len", tc.get("seq_len", 512))
    kw.setdefault("style_kind", tc.get("example_style", "demo_or_style"))  # prompts as in training
    return evaluate_model(model, tok, shards, split=split, **kw)
