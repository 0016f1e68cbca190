"""Molmo2 rows and batches: examples -> tokens with `<|image|>` -> padded batch.

The shards are read by the one data path (`model.data`, `build_dataloader(..., model_config=cfg)`),
which calls `encode_example` per conversation and `collate` per batch. No packing: each example
becomes BOS, the image placeholder, then its turns as
`model.examples` formats them (v1's " User: ... Assistant:" role format; Molmo2's chat template is not
applied yet), with loss on the assistant turns and the final EOS. `collate` pads tokens with -1 on the
right and concatenates the images' processor outputs in row order, the layout `Molmo2.forward` takes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from model.config import MolmoConfig
from model.molmo2.preprocessing import Molmo2ImageProcessor, expand_placeholders


def encode_example(messages: list[str], image: np.ndarray, tokenizer: Any, cfg: MolmoConfig,
                   proc: Molmo2ImageProcessor, seq_len: int) -> dict[str, Any] | None:
    """Tokens, targets and image inputs of one conversation; None when it does not fit in `seq_len`."""
    pix = proc([image])
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    ids, loss = [bos, cfg.image_tokens.image_placeholder], [0, 0]
    for i, turn in enumerate(messages):
        part = tokenizer.encode(turn, add_special_tokens=False)
        if i % 2 == 1:
            part = part + [tokenizer.eos_token_id] if i == len(messages) - 1 else part
        ids += part
        loss += [i % 2] * len(part)
    ids = expand_placeholders(ids, pix["image_grids"].tolist(), cfg.image_tokens)
    loss = [0] * (len(ids) - len(loss)) + loss  # the image tokens carry no loss
    if len(ids) > seq_len:
        return None
    targets = [t if m else -1 for t, m in zip(ids[1:] + [-1], loss[1:] + [0], strict=True)]
    return {"input_tokens": ids, "target_tokens": targets, **pix}


def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    t = max(len(r["input_tokens"]) for r in rows)
    pad = [[-1] * (t - len(r["input_tokens"])) for r in rows]
    out = {
        "input_tokens": torch.tensor([r["input_tokens"] + p for r, p in zip(rows, pad, strict=True)]),
        "target_tokens": torch.tensor([r["target_tokens"] + p for r, p in zip(rows, pad, strict=True)]),
    }
    for k in ("pixel_values", "image_token_pooling", "image_grids", "image_num_crops"):
        out[k] = torch.cat([r[k] for r in rows])
    out["loss_masks"] = (out["target_tokens"] >= 0).float()
    return out


def load_molmo2_tokenizer(name: str, cfg: MolmoConfig) -> Any:
    """"tiny": the toolkit's tiny tokenizer with Molmo2's image tokens; else a transformers tokenizer dir."""
    if name == "tiny":
        from model.molmo2.hf_dir import tiny_molmo2_tokenizer

        return tiny_molmo2_tokenizer(cfg)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)
