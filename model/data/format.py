"""Sample -> sequences for each model family, and the collation of a batch.

Molmo (docs/spec/molmo.md 2, 6.5): in training every conversation of an image is packed into one
sequence after a single copy of the image tokens; conversations that do not fit ``seq_len`` are not
dropped but start the next sequence of the same image (the packer's carry-over; the loader state
records how many sequences of a sample were already emitted). Unpacked (evaluation): one sequence
per conversation. Molmo2: an image's conversations joined as turns of one chat while it fits
(``model.molmo2.data.encode_image``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from model.collate import collate
from model.examples import Example, ExampleConfig, sample_to_examples
from model.packing import build_sequence
from model.preprocessing import MolmoImageProcessor, PreprocessConfig, load_image
from pixmo.shards import Sample, decode_sample


def split_of(key: str, val_fraction: float, seed: int = 0) -> str:
    """``"val"`` or ``"train"`` for an image key, from a hash of (seed, key): stable across runs."""
    h = int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") / 2.0**64
    return "val" if h < val_fraction else "train"


@dataclass
class DataConfig:
    seq_len: int = 2304
    batch_size: int = 4  # per rank
    packing: bool = True  # all conversations of an image in one sequence (overflow: the next one)
    pad_to_seq_len: bool = True  # pad tokens to seq_len ("to_max"); False: to the batch max
    seed: int = 0
    epochs: int | None = 1  # None: repeat forever (shard sources); mixtures are endless
    max_samples: int | None = None  # stop after this many samples of the rank's order
    shuffle: bool = False  # epoch-seeded shard order
    shuffle_in_shard: bool = False  # and an epoch-seeded order inside each shard (holds one shard in memory)
    split: str | None = None  # "train" / "val": held-out split by image-key hash
    val_fraction: float = 0.1
    split_seed: int = 0
    with_meta: bool = False  # add batch["meta"]: per sequence, the examples (ground truth for evaluation)
    drop_last: bool = False
    uint8_resize: bool = False  # resize uint8 pixels directly (several times faster, within 1-2 levels)
    num_workers: int = 0  # reader processes per rank
    prefetch: int = 8  # samples each worker may run ahead
    examples: ExampleConfig = field(default_factory=ExampleConfig)


def keep(key: str, cfg: DataConfig) -> bool:
    """The held-out split filter: decided from the key (the tar member name), before decoding."""
    return cfg.split is None or split_of(key, cfg.val_fraction, cfg.split_seed) == cfg.split


class MolmoFormat:
    def __init__(self, tokenizer: Any, preprocess_cfg: PreprocessConfig | None, cfg: DataConfig):
        pcfg = preprocess_cfg or PreprocessConfig()
        self.p = pcfg.with_tokens(tokenizer) if hasattr(tokenizer, "image_patch_id") else pcfg
        self.tokenizer, self.cfg = tokenizer, cfg
        self._processor: MolmoImageProcessor | None = None

    def examples(self, key: str, members: dict[str, bytes], style: str | None,
                 rng: np.random.Generator) -> tuple[Sample, list[list[Example]]] | None:
        """The sample and its groups of examples (one group per sequence before fitting)."""
        if not keep(key, self.cfg):
            return None
        s = decode_sample(key, members)
        exs = sample_to_examples(s, rng, cfg=self.cfg.examples, style=style)
        if not exs:
            return None
        if self.cfg.packing and self.cfg.examples.for_training:
            return s, [[exs[i] for i in rng.permutation(len(exs))]]  # conversations shuffled in training
        return s, [[e] for e in exs]

    def sequences(self, key: str, members: dict[str, bytes], style: str | None,
                  rng: np.random.Generator) -> list[Any]:
        got = self.examples(key, members, style, rng)
        if got is None:
            return []
        s, groups = got
        if self._processor is None:
            self._processor = MolmoImageProcessor(config=self.p, uint8_resize=self.cfg.uint8_resize)
        try:
            image = self._processor(load_image(s.image))
        except Exception as exc:  # noqa: BLE001 - PIL raises many types; name the sample
            raise ValueError(f"sample {s.key}: cannot decode or preprocess its image: {exc}") from exc
        return [seq for g in groups for seq in self._pack(image, g)]

    def _pack(self, image: dict[str, Any], exs: list[Example]) -> list[tuple[dict[str, Any], list[Example]]]:
        out = []
        while exs:
            seq = build_sequence(image, [e.messages for e in exs], self.tokenizer, seq_len=self.cfg.seq_len,
                                 weight=exs[0].weight if len(exs) == 1 else 1.0,
                                 crop_shape=(self.p.patches_per_crop, self.p.pixels_per_patch),
                                 tokens_per_crop=self.p.tokens_per_crop)
            used = len(exs) - seq.pop("num_dropped")
            out.append((seq, exs[:used]))
            exs = exs[used:]
        return out

    def collate(self, seqs: list[Any]) -> dict[str, Any]:
        batch: dict[str, Any] = collate([s for s, _ in seqs], self.cfg.seq_len, self.cfg.pad_to_seq_len)
        if self.cfg.with_meta:
            batch["meta"] = [m for _, m in seqs]
        return batch


class Molmo2Format:
    """Molmo2 rows: one conversation per sequence, formatted by ``model.molmo2.data``."""

    def __init__(self, tokenizer: Any, mcfg: Any, cfg: DataConfig):
        from model.molmo2.preprocessing import Molmo2ImageProcessor, Molmo2PreprocessConfig

        # bare prompts: the tokenizer's chat template adds the roles (model/molmo2/chat.py)
        cfg = replace(cfg, examples=replace(cfg.examples, message_format="none"))
        self.tokenizer, self.mcfg, self.cfg = tokenizer, mcfg, cfg
        self.proc = Molmo2ImageProcessor(Molmo2PreprocessConfig.from_model(mcfg))
        self.molmo = MolmoFormat(tokenizer, None, cfg)

    def sequences(self, key: str, members: dict[str, bytes], style: str | None,
                  rng: np.random.Generator) -> list[Any]:
        from model.molmo2.data import encode_image

        got = self.molmo.examples(key, members, style, rng)
        if got is None:
            return []
        s, groups = got
        conversations = [e.messages for g in groups for e in g]
        return encode_image(conversations, load_image(s.image), self.tokenizer, self.mcfg, self.proc,
                            self.cfg.seq_len)

    def collate(self, seqs: list[Any]) -> dict[str, Any]:
        from model.molmo2.data import collate as collate2

        return collate2(seqs)
