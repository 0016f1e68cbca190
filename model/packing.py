"""Tokenising Molmo examples and multi-annotation packing (docs/spec/molmo.md 2 and 6.5).

A *conversation* is a list of formatted turn texts (user, assistant, user, ...). One sequence is
``[BOS] + image tokens + conversation 1 + conversation 2 + ...``: a single copy of the image tokens,
then every conversation of that image. Assistant turns get EOS appended and carry the loss.

- training (every conversation ends with an assistant turn): ``input = [BOS] + seq[:-1]``,
  ``target = seq``;
- inference (one conversation ending with a user turn): ``input = [BOS] + seq``, and target /
  loss mask get a trailing -1 so all three have the same length.

Packed sequences get ``subsegment_ids`` (BOS and image 10000, conversation i -> i+1), positions
that restart per conversation (``pos = cumsum(sub >= k) - 1``) and the loss weight sqrt(1/n).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

IMAGE_SUBSEGMENT = 10000


def encode_conversation(messages: Sequence[str], tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and 0/1 loss mask of one conversation; assistant turns (odd index) end with EOS."""
    ids: list[int] = []
    mask: list[float] = []
    for i, msg in enumerate(messages):
        toks = tokenizer.encode(msg)
        if i % 2 == 1:
            toks = toks + [tokenizer.eos_id]
        ids += toks
        mask += [float(i % 2 == 1)] * len(toks)
    return np.array(ids, dtype=np.int64), np.array(mask, dtype=np.float32)


def _fit(lengths: list[int], n_image: int, seq_len: int | None) -> int:
    """How many leading conversations fit in ``seq_len`` input tokens (at least 1)."""
    if seq_len is None:
        return len(lengths)
    total, k = n_image, 0
    for n in lengths:
        if total + n > seq_len:
            break
        total, k = total + n, k + 1
    return max(k, 1)


def build_sequence(
    image: dict[str, Any] | None,
    conversations: Sequence[Sequence[str]],
    tokenizer,
    *,
    weight: float = 1.0,
    seq_len: int | None = None,
    root_subsegments: bool = True,
    crop_shape: tuple[int, int] = (576, 588),
    tokens_per_crop: int = 144,
) -> dict[str, Any]:
    """Per-example arrays for one image (or none) and its conversations (docs/spec/molmo.md 2, 6.5).

    Conversations that do not fit in ``seq_len`` are dropped from the end (the first one is kept
    and left for the collator to truncate); ``num_dropped`` says how many. ``image`` is a processor
    output (``images``, ``image_tokens``, ``image_input_idx``, ``image_masks``).
    """
    if not conversations:
        raise ValueError("an example needs at least one conversation")
    enc = [encode_conversation(c, tokenizer) for c in conversations]
    inference = [len(c) % 2 == 1 for c in conversations]
    if any(inference) and len(conversations) > 1:
        raise ValueError("only a single conversation may end with a user turn (inference)")
    img_toks = np.asarray(image["image_tokens"], dtype=np.int64) if image is not None else np.zeros(0, np.int64)
    keep = _fit([len(t) for t, _ in enc], len(img_toks), seq_len)
    enc = enc[:keep]
    n = len(enc)
    w = weight * (math.sqrt(1.0 / n) if (root_subsegments and n > 1) else 1.0)
    seq = np.concatenate([img_toks] + [t for t, _ in enc])
    mask = np.concatenate([np.zeros(len(img_toks), np.float32)] + [m * w for _, m in enc]).astype(np.float32)
    bos = tokenizer.bos_id
    if inference[0]:
        inp = np.concatenate([[bos], seq])
        target = np.concatenate([seq, [-1]])
        mask = np.concatenate([mask, [-1.0]]).astype(np.float32)
    else:
        inp = np.concatenate([[bos], seq[:-1]])
        target = seq
    out: dict[str, Any] = {
        "input_tokens": inp.astype(np.int64),
        "target_tokens": target.astype(np.int64),
        "loss_masks": mask,
        "num_dropped": len(conversations) - keep,
    }
    if n > 1:
        sub = np.concatenate([np.full(len(img_toks), IMAGE_SUBSEGMENT)] + [np.full(len(t), i + 1) for i, (t, _) in
                                                                            enumerate(enc)]).astype(np.int64)
        sub = np.concatenate([sub[:1], sub if inference[0] else sub[:-1]])
        out["subsegment_ids"] = sub
        out["position_ids"] = packed_positions(sub)
    else:
        out["position_ids"] = np.arange(len(inp), dtype=np.int64)
    out.update(_image_arrays(image, crop_shape, tokens_per_crop))
    return out


def _image_arrays(image: dict[str, Any] | None, crop_shape: tuple[int, int], tokens_per_crop: int) -> dict[str, Any]:
    if image is None:  # text-only: zero crops keeps FSDP-wrapped ViTs in lockstep (docs/spec/molmo.md 2)
        return {"images": np.zeros((0, *crop_shape), np.uint8),
                "image_input_idx": np.zeros((0, tokens_per_crop), np.int64),
                "image_masks": np.zeros((0, crop_shape[0]), np.float32)}
    imgs = image["images"]
    imgs = imgs.numpy() if isinstance(imgs, torch.Tensor) else np.asarray(imgs)
    idx = np.asarray(image["image_input_idx"], dtype=np.int64)
    return {"images": imgs, "image_input_idx": np.where(idx >= 0, idx + 1, idx),  # +1 for BOS
            "image_masks": np.asarray(image["image_masks"], dtype=np.float32)}


def packed_positions(sub: np.ndarray) -> np.ndarray:
    """Position of each token counting only earlier tokens with ``sub >= own sub`` (restarts per conversation)."""
    sub = np.asarray(sub)
    pos = np.empty(len(sub), dtype=np.int64)
    for k in np.unique(sub):
        counts = np.cumsum(sub >= k) - 1
        pos[sub == k] = counts[sub == k]
    return pos
