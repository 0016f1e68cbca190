"""Shards (or a mixture of shard sets) -> packed, collated Molmo batches.

The global stream is deterministic: samples are numbered in stream order (after the held-out
split filter and an optional seeded shuffle buffer; records are validated), every sample's formatting uses an rng seeded
by (seed, epoch, sample number), and packed sequences are numbered globally. Sequence ``g`` goes
to global batch ``g // (batch_size * world_size)``, rank ``(g // batch_size) % world_size``, and
a rank's batch ``b`` is built by DataLoader worker ``b % num_workers``. So batches do not depend
on the number of workers, and the ranks of a run together see exactly the batches a single
process with ``world_size * batch_size`` would see. Workers read all records (cheap) but decode
and preprocess only the images of their own batches.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from model.collate import collate
from model.examples import Example, ExampleConfig, sample_to_examples
from model.packing import build_sequence
from model.preprocessing import MolmoImageProcessor, PreprocessConfig, load_image
from pixmo.mixture import MixtureConfig, iter_mixture
from pixmo.records import parse_record
from pixmo.shards import Annotation, Sample, decode_sample, iter_raw


def split_of(key: str, val_fraction: float, seed: int = 0) -> str:
    """``"val"`` or ``"train"`` for an image key, from a hash of (seed, key): stable across runs."""
    h = int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") / 2.0**64
    return "val" if h < val_fraction else "train"


@dataclass
class DataConfig:
    seq_len: int = 2304
    batch_size: int = 4  # per rank
    packing: bool = True  # all conversations of an image in one sequence
    pad_to_seq_len: bool = True  # pad tokens to seq_len ("to_max"); False: to the batch max
    seed: int = 0
    epochs: int | None = 1  # None: repeat forever (shard sources); mixtures are endless
    max_samples: int | None = None  # stop after this many samples of the global stream
    shuffle_buffer: int = 0  # seeded shuffle buffer over the sample stream (0 = stream order)
    split: str | None = None  # "train" / "val": held-out split by image-key hash
    val_fraction: float = 0.1
    split_seed: int = 0
    with_meta: bool = False  # add batch["meta"]: per sequence, the examples (ground truth for evaluation)
    drop_last: bool = False
    uint8_resize: bool = False  # resize uint8 pixels directly (several times faster, within 1-2 levels)
    examples: ExampleConfig = field(default_factory=ExampleConfig)


class MolmoDataset(IterableDataset):
    """Iterable of collated batches (see the module docstring for how they are assigned)."""

    def __init__(self, source: str | Path | list[str | Path] | MixtureConfig, tokenizer,
                 preprocess_cfg: PreprocessConfig | None = None, cfg: DataConfig | None = None, *,
                 rank: int = 0, world_size: int = 1):
        self.source = source
        self.tokenizer = tokenizer
        pcfg = preprocess_cfg or PreprocessConfig()
        self.preprocess_cfg = pcfg.with_tokens(tokenizer) if hasattr(tokenizer, "image_patch_id") else pcfg
        self.cfg = cfg or DataConfig()
        self.rank, self.world_size = rank, world_size
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")

    # --- the global sample stream ---------------------------------------------------------
    def _raw_stream(self) -> Iterator[tuple[str | None, Sample]]:
        """(style, sample) in global order; samples are decoded without record validation."""
        if isinstance(self.source, MixtureConfig):
            for src, s in iter_mixture(self.source, self.cfg.seed):
                yield src.style, _validated(s)
            return
        sources = self.source if isinstance(self.source, list) else [self.source]
        epochs = itertools.count() if self.cfg.epochs is None else range(self.cfg.epochs)
        for epoch in epochs:
            stream = ((None, decode_sample(k, m)) for src in sources for k, m in iter_raw(src))
            yield from self._shuffled(stream, epoch)

    def _shuffled(self, stream, epoch: int):
        n = self.cfg.shuffle_buffer
        if n <= 1:
            yield from stream
            return
        rng = np.random.default_rng([self.cfg.seed, epoch, 7])
        buf: list = []
        for item in stream:
            buf.append(item)
            if len(buf) >= n:
                yield buf.pop(int(rng.integers(len(buf))))
        while buf:
            yield buf.pop(int(rng.integers(len(buf))))

    def _samples(self) -> Iterator[tuple[int, str | None, Sample]]:
        c = self.cfg
        n = 0
        for style, s in self._raw_stream():
            if c.max_samples is not None and n >= c.max_samples:
                return
            if c.split is not None and split_of(s.key, c.val_fraction, c.split_seed) != c.split:
                continue
            yield n, style, s
            n += 1

    def _sequences(self) -> Iterator[tuple[Sample, list[Example], np.random.Generator]]:
        """Groups of examples that become one sequence each, in global order (text only, cheap)."""
        for n, style, s in self._samples():
            rng = np.random.default_rng([self.cfg.seed, n])
            exs = sample_to_examples(s, rng, cfg=self.cfg.examples, style=style)
            if not exs:
                continue
            if self.cfg.packing and self.cfg.examples.for_training:
                order = rng.permutation(len(exs))  # conversations are shuffled in training
                yield s, [exs[i] for i in order], rng
            else:
                for ex in exs:
                    yield s, [ex], rng

    # --- batches --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        c, W = self.cfg, self.world_size
        processor = MolmoImageProcessor(config=self.preprocess_cfg, uint8_resize=c.uint8_resize)
        pending: list[tuple[Sample, list[Example]]] = []
        current = None
        for g, (s, exs, _rng) in enumerate(self._sequences()):
            local_batch, slot = divmod(g // c.batch_size, W)
            if slot != self.rank or local_batch % nw != wid:
                continue
            if current is not None and local_batch != current:
                yield self._batch(pending, processor)
                pending = []
            current = local_batch
            pending.append((s, exs))
        if pending and not (c.drop_last and len(pending) < c.batch_size):
            yield self._batch(pending, processor)

    def _batch(self, items: list[tuple[Sample, list[Example]]], processor: MolmoImageProcessor) -> dict[str, Any]:
        c, p = self.cfg, self.preprocess_cfg
        seqs, metas = [], []
        for s, exs in items:
            try:
                image = processor(load_image(s.image))
            except Exception as exc:  # noqa: BLE001 - PIL raises many types; name the sample
                raise ValueError(f"sample {s.key}: cannot decode or preprocess its image: {exc}") from exc
            seq = build_sequence(image, [e.messages for e in exs], self.tokenizer, seq_len=c.seq_len,
                                 weight=exs[0].weight if len(exs) == 1 else 1.0,
                                 crop_shape=(p.patches_per_crop, p.pixels_per_patch),
                                 tokens_per_crop=p.tokens_per_crop)
            seqs.append(seq)
            metas.append(exs[: len(exs) - seq["num_dropped"]])
        batch: dict[str, Any] = collate(seqs, c.seq_len, c.pad_to_seq_len)
        if c.with_meta:
            batch["meta"] = metas
        return batch


def _validated(sample: Sample) -> Sample:
    """Records read without validation (``iter_mixture``) hold raw JSON in nested fields: validate them."""
    sample.annotations = [Annotation(a.subset, parse_record(a.subset, dict(a.record.__dict__)), a.meta)
                          for a in sample.annotations]
    return sample


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


def build_dataloader(source: str | Path | list[str | Path] | MixtureConfig, tokenizer,
                     preprocess_cfg: PreprocessConfig | None = None, seq_len: int = 2304, batch_size: int = 4,
                     num_workers: int = 0, seed: int = 0, packing: bool = True, *, rank: int = 0,
                     world_size: int = 1, **data_kw: Any) -> DataLoader:
    """A DataLoader of collated batches (the contract's batch dict) from shards or a mixture.

    Extra keywords are :class:`DataConfig` fields (``epochs``, ``split``, ``examples`` ...).
    """
    cfg = DataConfig(seq_len=seq_len, batch_size=batch_size, seed=seed, packing=packing, **data_kw)
    ds = MolmoDataset(source, tokenizer, preprocess_cfg, cfg, rank=rank, world_size=world_size)
    return DataLoader(ds, batch_size=None, num_workers=num_workers, worker_init_fn=_worker_init,
                      persistent_workers=False, prefetch_factor=2 if num_workers else None)


def count_batches(n_sequences: int, batch_size: int, world_size: int = 1) -> int:
    """Batches per rank for a stream of ``n_sequences`` (the last one may be partial)."""
    return math.ceil(n_sequences / (batch_size * world_size))
