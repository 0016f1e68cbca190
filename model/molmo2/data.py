"""Molmo2 training batches from the toolkit's shards: examples -> tokens with `<|image|>` -> padded batch.

A minimal path (no packing): the conversations `model.examples` writes for one image (bare prompts, the
family's point format) are joined as turns of one chat while it fits `seq_len`, and rendered in Molmo2's chat
format by the tokenizer's chat template (model/molmo2/chat.py), with loss on the assistant replies and their
end-of-turn markers. `collate` pads tokens with -1 on the right and concatenates the images' processor
outputs in row order, the layout `Molmo2.forward` takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.config import MolmoConfig
from model.molmo2.chat import expand_images, join_conversations, render_chat
from model.molmo2.preprocessing import Molmo2ImageProcessor, Molmo2PreprocessConfig


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


def shard_batches(shards: str | Path, tokenizer: Any, cfg: MolmoConfig, batch_size: int, seq_len: int,
                  seed: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of `batch_size` conversations from a shard directory, in shard order (one pass)."""
    from model.examples import ExampleConfig, sample_to_examples
    from model.preprocessing import load_image
    from pixmo.shards import iter_samples

    proc = Molmo2ImageProcessor(Molmo2PreprocessConfig.from_model(cfg))
    ex_cfg = ExampleConfig(point_format=cfg.family, message_format="none")  # the chat template adds the roles
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for sample in iter_samples(shards):
        image = load_image(sample.image)
        pix = proc([image])
        convs = [ex.messages for ex in sample_to_examples(sample, rng, cfg=ex_cfg)]
        encode = partial(encode_example, image=image, tokenizer=tokenizer, cfg=cfg, proc=proc, seq_len=seq_len, pix=pix)
        for row in join_conversations(convs, encode):
            rows.append(row)
            if len(rows) == batch_size:
                yield collate(rows)
                rows = []


class Molmo2ShardLoader:
    """Endless microbatches for one rank (batch i goes to rank i % world), epoch after epoch."""

    def __init__(self, shards: list[str], tokenizer: Any, cfg: MolmoConfig, batch_size: int, seq_len: int,
                 rank: int = 0, world: int = 1, seed: int = 0):
        self.args = (tokenizer, cfg, batch_size, seq_len)
        self.shards, self.rank, self.world, self.seed = shards, rank, world, seed

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        epoch = 0
        while True:
            n = 0
            for shard in self.shards:
                for i, b in enumerate(shard_batches(shard, *self.args, seed=self.seed + epoch)):
                    n += 1
                    if i % self.world == self.rank:
                        yield b
            if n == 0:
                raise ValueError(f"no Molmo2 batch fits in the shards {self.shards}")
            epoch += 1


def load_molmo2_tokenizer(name: str, cfg: MolmoConfig) -> Any:
    """"tiny": the toolkit's tiny tokenizer with Molmo2's image tokens; else a transformers tokenizer dir."""
    if name == "tiny":
        from model.molmo2.hf_dir import tiny_molmo2_tokenizer

        return tiny_molmo2_tokenizer(cfg)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)
