"""The one data path into training and evaluation (docs/model_data.md, "The data path").

    loader = build_dataloader(["out/count"], tokenizer, preprocess_cfg, seq_len=256, batch_size=4,
                              rank=rank, world_size=world, num_workers=2, epochs=None, shuffle=True)
    for batch in loader: ...            # collated batches of the model contract
    state = loader.state                # JSON-able; loader.set_state(state) continues exactly there

``model.data.order``: the rank's deterministic sample order (from manifests); ``model.data.read``: the
workers (only their own shards, streamed); ``model.data.format``: sample -> packed sequences -> batch;
``model.data.loader``: workers, prefetch, batching and the state; ``model.data.source``: the trainer's
step-indexed view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model.data.format import DataConfig, Molmo2Format, MolmoFormat, split_of
from model.data.loader import Loader
from model.data.order import Plan, plan_sources
from model.preprocessing import PreprocessConfig
from pixmo.mixture import MixtureConfig

__all__ = ["DataConfig", "Loader", "build_dataloader", "load_tokenizer", "make_plan", "split_of"]


def load_tokenizer(name: str):
    from model.tokenizer import MolmoTokenizer

    return MolmoTokenizer.tiny() if name == "tiny" else MolmoTokenizer.from_pretrained(name)


def make_plan(source: str | Path | list | MixtureConfig, cfg: DataConfig, rank: int = 0, world_size: int = 1) -> Plan:
    if isinstance(source, MixtureConfig):
        sources, rates = plan_sources([], source)
    else:
        sources, rates = plan_sources(source)
    return Plan(sources, rank, world_size, cfg.seed, cfg.shuffle, cfg.epochs, rates, cfg.max_samples,
                cfg.shuffle_in_shard)


def build_dataloader(source: str | Path | list[str | Path] | MixtureConfig, tokenizer,
                     preprocess_cfg: PreprocessConfig | None = None, seq_len: int = 2304, batch_size: int = 4,
                     num_workers: int = 0, seed: int = 0, packing: bool = True, *, rank: int = 0,
                     world_size: int = 1, model_config: Any = None, **data_kw: Any) -> Loader:
    """A resumable loader of collated batches (the contract's batch dict) from shards or a mixture.

    Extra keywords are :class:`DataConfig` fields (``epochs``, ``split``, ``shuffle``, ``examples`` ...).
    A ``model_config`` of the Molmo2 family gives Molmo2 rows (``model.molmo2.data``).
    """
    cfg = DataConfig(seq_len=seq_len, batch_size=batch_size, seed=seed, packing=packing, num_workers=num_workers,
                     **data_kw)
    plan = make_plan(source, cfg, rank, world_size)
    molmo2 = model_config is not None and model_config.family == "molmo2"
    fmt = Molmo2Format(tokenizer, model_config, cfg) if molmo2 else MolmoFormat(tokenizer, preprocess_cfg, cfg)
    return Loader(plan, fmt, batch_size, num_workers=num_workers, prefetch=cfg.prefetch, drop_last=cfg.drop_last)
