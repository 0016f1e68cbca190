"""Glue between the training loop and the data side (`model.data`, engineer A's loader).

`model.data` assigns packed sequences to (global batch, rank) deterministically, so a step's
microbatches on every rank are the loader's next `k` local batches, and the ranks of a run see
exactly the sequences one process would see. Resuming at step s skips s*k batches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model.config import MolmoConfig


def load_tokenizer(name: str):
    from model.tokenizer import MolmoTokenizer

    return MolmoTokenizer.tiny() if name == "tiny" else MolmoTokenizer.from_pretrained(name)


class LoaderSource:
    """A step-indexed view of an endless per-rank batch iterator (k microbatches per step)."""

    def __init__(self, loader: Any, per_step: int):
        self.loader, self.per_step = loader, per_step
        self._it, self._pos = None, 0

    def batches(self, step: int) -> list[dict]:
        if self._it is None or self._pos > step * self.per_step:
            self._it, self._pos = iter(self.loader), 0
        while self._pos < step * self.per_step:  # resume: skip what earlier steps consumed
            next(self._it)
            self._pos += 1
        out = [next(self._it) for _ in range(self.per_step)]
        self._pos += self.per_step
        return out


def holdout(cfg) -> tuple[str | None, list[str]]:
    """(split of train_shards used for training, shards used for evaluation)."""
    if cfg.eval_shards:
        return None, list(cfg.eval_shards)
    if cfg.holdout_fraction > 0:
        return "train", list(cfg.train_shards)
    return None, []


def build_sources(cfg, rank: int = 0, world: int = 1) -> tuple[LoaderSource, dict | None]:
    """The training source for this rank, and how to build the evaluation set (or None)."""
    from model.data import build_dataloader
    from model.examples import ExampleConfig

    if not cfg.train_shards:
        raise ValueError("train_shards is empty: give shard directories (or data: synthetic)")
    for d in [*cfg.train_shards, *cfg.eval_shards]:
        if "://" not in str(d) and not Path(d).exists():
            raise FileNotFoundError(f"shard directory {d} does not exist (make one first, e.g. `make gen-count`)")
    mcfg: MolmoConfig = cfg.model_config()
    if mcfg.family == "molmo2":  # model.molmo2.data: unpacked conversations, no held-out evaluation yet
        from model.molmo2.data import Molmo2ShardLoader, load_molmo2_tokenizer

        tok2 = load_molmo2_tokenizer(cfg.tokenizer, mcfg)
        loader = Molmo2ShardLoader(list(cfg.train_shards), tok2, mcfg, cfg.micro_batch_size, cfg.seq_len,
                                   rank, world, cfg.seed)
        return LoaderSource(loader, cfg.global_batch_size // (cfg.micro_batch_size * world)), None
    tok = load_tokenizer(cfg.tokenizer)
    if cfg.global_batch_size % (cfg.micro_batch_size * world):
        raise ValueError(f"global_batch_size {cfg.global_batch_size} must be a multiple of "
                         f"micro_batch_size {cfg.micro_batch_size} x world size {world}")
    split, eval_shards = holdout(cfg)
    loader = build_dataloader(
        list(cfg.train_shards), tok, mcfg.preprocess_config(tok), seq_len=cfg.seq_len,
        batch_size=cfg.micro_batch_size, num_workers=cfg.num_workers, seed=cfg.seed, packing=True,
        rank=rank, world_size=world, epochs=None, split=split, val_fraction=cfg.holdout_fraction,
        pad_to_seq_len=False, examples=ExampleConfig(style_kind=cfg.example_style, point_format=mcfg.family),
    )
    per_step = cfg.global_batch_size // (cfg.micro_batch_size * world)
    eval_spec = {"shards": eval_shards, "split": "val" if split else None} if eval_shards else None
    return LoaderSource(loader, per_step), eval_spec
