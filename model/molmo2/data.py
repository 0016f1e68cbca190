"""Molmo2 rows and batches: examples -> tokens with `<|image|>` -> padded batch.

The shards are read by the one data path (`model.data`, `build_dataloader(..., model_config=cfg)`),
which calls `encode_image` per image and `collate` per batch. No packing across images: the
conversations `model.examples` writes for one image (bare prompts, the family's point format) are joined
as turns of one chat while it fits `seq_len`, and rendered in Molmo2's chat format by the tokenizer's
chat template (model/molmo2/chat.py), with loss on the assistant replies and their end-of-turn markers.
`collate` pads tokens with -1 on the right and concatenates the images' processor outputs in row order,
the layout `Molmo2.forward` takes.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch

from model.config import MolmoConfig
from model.molmo2.chat import expand_images, join_conversations, render_chat
from model.molmo2.preprocessing import Molmo2ImageProcessor


def encode_example(messages: list[str], image: np.ndarray, tokenizer: Any, cfg: MolmoConfig,
                   proc: Molmo2ImageProcessor, seq_len: int, pix: dict[str, Any] | None = None
                   ) -> dict[str, Any] | None:
    """Tokens, targets and image inputs of one chat (turns: user, assistant, ...; a final user turn is a
    prompt); None when it does not fit in `seq_len`. `pix`: the image's processor outputs, when at hand."""
    pix = proc([image]) if pix is None else pix
    ids, loss = render_chat(messages, tokenizer)
    ids, loss = expand_images(ids, loss, pix["image_grids"].tolist(), cfg.image_tokens)
    if len(ids) > seq_len:
        return None
    targets = [t if m else -1 for t, m in zip(ids[1:] + [-1], loss[1:] + [0], strict=True)]
    return {"input_tokens": ids, "target_tokens": targets, **pix}


def encode_image(conversations: list[list[str]], image: np.ndarray, tokenizer: Any, cfg: MolmoConfig,
                 proc: Molmo2ImageProcessor, seq_len: int) -> list[dict[str, Any]]:
    """The rows of one image: its conversations joined as turns of one chat while it fits `seq_len`
    (a conversation that alone does not fit is dropped: nothing of it is trainable)."""
    encode = partial(encode_example, image=image, tokenizer=tokenizer, cfg=cfg, proc=proc, seq_len=seq_len,
                     pix=proc([image]))
    return join_conversations(conversations, encode)


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
