"""Model outputs for a pairwise campaign: answer a prompt set with several Molmo checkpoints.

Prompts: JSONL of ``{"image": path, "prompt": ..., "category": optional, "prompt_id": optional}``
(image paths relative to the prompt file). Output: one line per (prompt, checkpoint) in the layout
``pixmo eval campaign`` imports: image (absolute path), prompt, model, answer, category, prompt_id. Each checkpoint
is loaded once and answers every prompt (greedy by default) through ``model.generate``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pixmo.text import numbered_jsonl


class GenerateError(ValueError):
    """Bad prompt file or checkpoint; the message names it."""


def read_prompts(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    base = Path(path).parent
    for n, r in numbered_jsonl(path, error=GenerateError, not_object="each line must be a JSON object with 'image' and 'prompt'"):
        for k in ("image", "prompt"):
            if not isinstance(r.get(k), str) or not r[k].strip():
                raise GenerateError(f"{path}:{n}: {k!r} must be a non-empty string")
        img = Path(r["image"]) if Path(r["image"]).is_absolute() else base / r["image"]
        if not img.is_file():
            raise GenerateError(f"{path}:{n}: image {r['image']!r} not found (looked at {img})")
        rows.append({**r, "_path": str(img)})
    return rows


def parse_checkpoints(specs: list[str]) -> dict[str, str]:
    """``NAME=PATH`` (or just PATH: named by its folder/file stem) -> {name: path}."""
    out: dict[str, str] = {}
    for s in specs:
        name, _, path = s.partition("=") if "=" in s else (Path(s.rstrip("/")).stem, "", s)
        if not Path(path).exists():
            raise GenerateError(f"checkpoint {path!r} (model {name!r}) does not exist")
        if name in out:
            raise GenerateError(f"two checkpoints are named {name!r}; use NAME=PATH")
        out[name] = path
    if len(out) < 2:
        raise GenerateError("a pairwise comparison needs at least two checkpoints")
    return out


def generate_outputs(prompts: list[dict[str, Any]], checkpoints: dict[str, str], *, max_new_tokens: int = 128,
                     temperature: float = 0.0, top_p: float = 1.0, seed: int = 0,
                     tokenizer: str | None = None) -> Iterator[dict[str, Any]]:
    """One output row per (checkpoint, prompt), checkpoint by checkpoint."""
    try:
        from model.checkpoint import load_model
        from model.data import load_tokenizer
        from model.generate import generate_text, prompt_batch
        from model.preprocessing import load_image
    except ImportError as exc:  # the model package is optional for this pipeline
        raise GenerateError(f"the Molmo package (model/) cannot be imported: {exc}") from None

    for name, path in checkpoints.items():
        model = load_model(path)
        tc = getattr(model, "train_config", None) or {}
        tok = load_tokenizer(tokenizer or tc.get("tokenizer", "tiny"))
        for p in prompts:
            batch = prompt_batch(model, tok, load_image(p["_path"]), p["prompt"])
            kw = {"temperature": temperature, "top_p": top_p, "seed": seed} if temperature > 0 else {}
            text = generate_text(model, tok, batch, max_new_tokens=max_new_tokens, **kw)[0]
            yield {"image": str(Path(p["_path"]).resolve()), "prompt": p["prompt"], "model": name, "answer": text.strip(),
                   "category": p.get("category", ""), "prompt_id": p.get("prompt_id", ""), "checkpoint": str(path)}
