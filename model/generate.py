"""Batched generation with a KV cache: greedy or sampling (temperature, top-p).

Batches may be right-padded (the collator's -1 padding) or left-padded; rows are re-aligned to
end at the same column (left padding) so one prefill and one token per step serve them all.
Padding keys are masked for the whole generation and positions continue each row's own count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from model.decoder import KVCache
from model.molmo import Molmo


def left_align(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Shift every row so its last real token sits in the last column (image indices follow)."""
    tokens = batch["input_tokens"]
    b, t = tokens.shape
    valid = tokens >= 0
    last = torch.where(valid, torch.arange(t, device=tokens.device), -1).max(1).values  # (B,)
    shift = (t - 1 - last).clamp(min=0)
    cols = (torch.arange(t, device=tokens.device)[None, :] - shift[:, None])  # source column per target
    ok = cols >= 0
    src = cols.clamp(min=0)
    out = dict(batch)
    out["input_tokens"] = torch.where(ok, tokens.gather(1, src), -1)
    pos = batch.get("position_ids")
    if pos is None:
        pos = ((tokens >= 0).long().cumsum(1) - 1).clamp(min=0)
    out["position_ids"] = torch.where(ok, pos.gather(1, src), 0)
    if "image_input_idx" in batch:
        idx = batch["image_input_idx"]
        out["image_input_idx"] = torch.where(idx >= 0, idx + shift.view(b, *([1] * (idx.ndim - 1))), idx)
    for k in ("target_tokens", "loss_masks", "subsegment_ids"):
        out.pop(k, None)
    return out


def _sample(logits: torch.Tensor, temperature: float, top_p: float, gen: torch.Generator | None) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, -1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(-1, descending=True)
        drop = sorted_p.cumsum(-1) - sorted_p > top_p  # keep the smallest set reaching top_p
        sorted_p = sorted_p.masked_fill(drop, 0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return torch.multinomial(probs, 1, generator=gen).squeeze(-1)


@torch.no_grad()
def generate(model: Molmo, batch: dict[str, Any], *, max_new_tokens: int, eos_id: int,
             temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None) -> list[list[int]]:
    """Token ids generated for each row (EOS excluded). `batch` is a collated inference batch."""
    model.eval()
    dev = next(model.parameters()).device
    batch = left_align({k: v.to(dev) for k, v in batch.items() if isinstance(v, torch.Tensor)})
    tokens, pos = batch.pop("input_tokens"), batch.pop("position_ids")
    b, t = tokens.shape
    cache = KVCache(model.cfg.llm, b, t + max_new_tokens, dev, next(model.transformer.parameters()).dtype)
    key_valid = torch.zeros(b, t + max_new_tokens, dtype=torch.bool, device=dev)
    key_valid[:, :t] = tokens >= 0
    mask = model.prefill_mask(tokens)  # Molmo2: image tokens attend to each other
    gen = torch.Generator(device=dev).manual_seed(seed) if seed is not None else None
    logits = model(tokens, position_ids=pos, attn_mask=mask, cache=cache, last_logits_only=True, **batch).logits
    next_pos = pos[:, -1] + 1
    out: list[list[int]] = [[] for _ in range(b)]
    done = torch.zeros(b, dtype=torch.bool, device=dev)
    for step in range(max_new_tokens):
        nxt = _sample(logits[:, -1], temperature, top_p, gen)  # (B,)
        for i in range(b):
            if not done[i] and int(nxt[i]) != eos_id:
                out[i].append(int(nxt[i]))
        done |= nxt == eos_id
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        key_valid[:, t + step] = True
        m = key_valid[:, : t + step + 1].view(b, 1, 1, -1)
        logits = model(nxt.view(b, 1), position_ids=next_pos.view(b, 1), attn_mask=m, cache=cache).logits
        next_pos = next_pos + 1
    return out


@torch.no_grad()
def generate_text(model: Molmo, tokenizer, batch: dict[str, Any], max_new_tokens: int = 64, **kw: Any) -> list[str]:
    ids = generate(model, batch, max_new_tokens=max_new_tokens, eos_id=tokenizer.eos_id, **kw)
    return [tokenizer.decode(x) for x in ids]


def prompt_batch(model: Molmo, tokenizer, image, prompt: str) -> dict[str, torch.Tensor]:
    """One inference example (" User: {prompt} Assistant:") with the image, collated."""
    from model.collate import collate
    from model.packing import build_sequence
    from model.preprocessing import MolmoImageProcessor
    from pixmo.formatting import user_turn

    pcfg = model.cfg.preprocess_config(tokenizer)
    processed = MolmoImageProcessor(config=pcfg)(image)
    seq = build_sequence(processed, [[user_turn(prompt)]], tokenizer,
                         crop_shape=(pcfg.patches_per_crop, pcfg.pixels_per_patch),
                         tokens_per_crop=pcfg.tokens_per_crop)
    return collate([seq], pad_to_seq_len=False)


def draw_points(image, points: list[tuple[float, float]], out: str | Path) -> Path:
    """Save `image` (HxWx3 uint8) with a ring at every pixel point."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(im)
    r = max(3, round(min(im.size) / 60))
    for x, y in points:
        draw.ellipse([x - r, y - r, x + r, y + r], outline=(255, 0, 255), width=max(1, r // 2))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    im.save(out)
    return out


def answer_image(ckpt: str | Path, image_path: str | Path, prompt: str, *, out: str | Path | None = None,
                 max_new_tokens: int = 128, tokenizer: str | None = None, **kw: Any):
    """(answer text, pixel points, path of the drawn image or None) for a checkpoint and an image."""
    from model.checkpoint import load_model
    from model.data import load_tokenizer
    from model.preprocessing import load_image
    from pixmo.formatting import parse_points

    model = load_model(ckpt)
    tc = getattr(model, "train_config", None) or {}
    tok = load_tokenizer(tokenizer or tc.get("tokenizer", "tiny"))
    image = load_image(str(image_path))
    batch = prompt_batch(model, tok, image, prompt)
    text = generate_text(model, tok, batch, max_new_tokens=max_new_tokens, **kw)[0]
    h, w = image.shape[:2]
    points = parse_points(text, image_size=(w, h))
    drawn = None
    if points:
        p = Path(image_path)
        drawn = draw_points(image, points, out or p.with_name(f"{p.stem}_points.png"))
    return text, points, drawn
