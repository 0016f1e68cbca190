"""Collation of per-example arrays into the batch of the model contract (docs/spec/molmo.md 6.6).

Token fields are padded with -1 (to ``seq_len`` when given, else to the batch maximum) and
truncated to ``seq_len``; crops are padded to the batch's largest crop count N with ``crop_mask``
False, ``image_input_idx`` -1 and ``image_masks`` -1. uint8 crops pad with 0; float (already
normalised, reference path) crops pad with -1. ``position_ids`` pad with 0 (an index that is
always valid); ``subsegment_ids`` (present when any example is packed) pad with -1, and unpacked
examples in a mixed batch get all ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

TOKEN_KEYS = ("input_tokens", "target_tokens", "loss_masks")


def collate(examples: Sequence[dict[str, Any]], seq_len: int | None = None,
            pad_to_seq_len: bool = True) -> dict[str, torch.Tensor]:
    """Batch per-example dicts (from :func:`model.packing.build_sequence`)."""
    if not examples:
        raise ValueError("cannot collate an empty batch")
    longest = max(len(e["input_tokens"]) for e in examples)
    T = seq_len if (seq_len is not None and pad_to_seq_len) else min(longest, seq_len or longest)
    B = len(examples)
    batch: dict[str, torch.Tensor] = {}
    for key, dtype in (("input_tokens", torch.int64), ("target_tokens", torch.int64), ("loss_masks", torch.float32)):
        batch[key] = _pad_1d([e[key] for e in examples], T, -1, dtype)
    batch["position_ids"] = _pad_1d([e["position_ids"] for e in examples], T, 0, torch.int64)
    if any("subsegment_ids" in e for e in examples):
        subs = [e.get("subsegment_ids", np.ones(len(e["input_tokens"]), np.int64)) for e in examples]
        batch["subsegment_ids"] = _pad_1d(subs, T, -1, torch.int64)
    batch.update(_collate_images(examples, T))
    assert batch["input_tokens"].shape == (B, T)
    return batch


def _pad_1d(arrays: Sequence[np.ndarray], T: int, value: float, dtype: torch.dtype) -> torch.Tensor:
    out = torch.full((len(arrays), T), value, dtype=dtype)
    for i, a in enumerate(arrays):
        a = np.asarray(a)[:T]
        out[i, :len(a)] = torch.as_tensor(a, dtype=dtype)
    return out


def _collate_images(examples: Sequence[dict[str, Any]], T: int) -> dict[str, torch.Tensor]:
    imgs = [np.asarray(e["images"]) for e in examples]
    N = max(len(a) for a in imgs)
    shape = next((a.shape[1:] for a in imgs if len(a)), imgs[0].shape[1:])
    floating = any(a.dtype.kind == "f" and len(a) for a in imgs)
    dtype = torch.float32 if floating else torch.uint8
    tpc = next((np.asarray(e["image_input_idx"]).shape[1] for e in examples if len(e["images"])),
               np.asarray(examples[0]["image_input_idx"]).shape[-1])
    B = len(examples)
    images = torch.full((B, N, *shape), -1.0 if floating else 0, dtype=dtype)
    crop_mask = torch.zeros(B, N, dtype=torch.bool)
    idx = torch.full((B, N, tpc), -1, dtype=torch.int64)
    masks = torch.full((B, N, shape[0]), -1.0, dtype=torch.float32)
    for i, e in enumerate(examples):
        n = len(imgs[i])
        if not n:
            continue
        images[i, :n] = torch.as_tensor(imgs[i], dtype=dtype)
        crop_mask[i, :n] = True
        ix = torch.as_tensor(np.asarray(e["image_input_idx"]), dtype=torch.int64)
        idx[i, :n] = torch.where(ix >= T, -1, ix)  # features whose token was truncated away are dropped
        masks[i, :n] = torch.as_tensor(np.asarray(e["image_masks"]), dtype=torch.float32)
    return {"images": images, "crop_mask": crop_mask, "image_input_idx": idx, "image_masks": masks}
