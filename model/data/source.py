"""The trainer's view of the loader: a step's microbatches, prefetched one step ahead, and the state.

``LoaderSource.batches(step)`` returns the next ``per_step`` batches of the rank's loader (steps are
consumed in order); a background thread already builds the following step's batches while the model
trains on these. ``state`` is the loader state after the batches handed out, which the trainer saves
with every checkpoint (one per rank) and gives back to :meth:`LoaderSource.load_state` on resume.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

from model.data.loader import Loader


class LoaderSource:
    def __init__(self, loader: Loader, per_step: int):
        self.loader, self.per_step = loader, per_step
        self.state: dict = dict(loader.state)
        self._q: queue.Queue | None = None
        self._stop = threading.Event()

    def load_state(self, state: dict) -> None:
        self.close()
        self.loader.set_state(state)
        self.state = dict(state)

    def batches(self, step: int) -> list[dict]:
        if self._q is None:
            self._start()
        assert self._q is not None
        kind, item = self._q.get()
        if kind == "error":
            raise item
        if kind == "end":
            raise ValueError(f"the training data ended at step {step}: set epochs to None (repeat) or fewer steps")
        batches, self.state = item
        return batches

    def _start(self) -> None:
        self._stop = threading.Event()
        q: queue.Queue = queue.Queue(maxsize=1)  # one step ahead
        self._q = q
        it = self.loader.iter_with_state()
        stop = self._stop

        def run() -> None:
            try:
                while not stop.is_set():
                    got = [next(it, None) for _ in range(self.per_step)]
                    if any(g is None for g in got):
                        q.put(("end", None))
                        return
                    q.put(("ok", ([g[0] for g in got if g], got[-1][1] if got[-1] else {})))
            except Exception as exc:  # noqa: BLE001 - re-raised in the training thread
                q.put(("error", exc))
            finally:
                it.close()

        threading.Thread(target=run, daemon=True, name="loader-prefetch").start()

    def close(self) -> None:
        """Stop prefetching (the thread ends after its current put is taken or dropped)."""
        if self._q is not None:
            self._stop.set()
            try:
                self._q.get_nowait()
            except queue.Empty:
                pass
            self._q = None


def holdout(cfg) -> tuple[str | None, list[str]]:
    """(split of train_shards used for training, shards used for evaluation)."""
    if cfg.eval_shards:
        return None, list(cfg.eval_shards)
    if cfg.holdout_fraction > 0:
        return "train", list(cfg.train_shards)
    return None, []


def _train_source(paths: list[str]) -> Any:
    """Shard directories/URLs, or one mixture file (``.json``/``.yaml``) streamed with its rates."""
    if len(paths) == 1 and paths[0].endswith((".json", ".yaml", ".yml")):
        from pixmo.mixture import MixtureConfig

        return MixtureConfig.load(paths[0])
    return paths


def build_sources(cfg, rank: int = 0, world: int = 1) -> tuple[LoaderSource, dict | None]:
    """The training source for this rank, and how to build the evaluation set (or None)."""
    from model.data import build_dataloader, load_tokenizer
    from model.examples import ExampleConfig

    if not cfg.train_shards:
        raise ValueError("train_shards is empty: give shard directories (or data: synthetic)")
    for d in [*cfg.train_shards, *cfg.eval_shards]:
        if "://" not in str(d) and not Path(d).exists():
            raise FileNotFoundError(f"shard directory {d} does not exist (make one first, e.g. `make gen-count`)")
    if cfg.global_batch_size % (cfg.micro_batch_size * world):
        raise ValueError(f"global_batch_size {cfg.global_batch_size} must be a multiple of "
                         f"micro_batch_size {cfg.micro_batch_size} x world size {world}")
    mcfg = cfg.model_config()
    molmo2 = mcfg.family == "molmo2"  # Molmo2: unpacked conversations, no held-out evaluation yet
    split, eval_shards = (None, []) if molmo2 else holdout(cfg)
    if molmo2:
        from model.molmo2.data import load_molmo2_tokenizer

        tok, pcfg = load_molmo2_tokenizer(cfg.tokenizer, mcfg), None
    else:
        tok = load_tokenizer(cfg.tokenizer)
        pcfg = mcfg.preprocess_config(tok)
    loader = build_dataloader(
        _train_source([str(p) for p in cfg.train_shards]), tok, pcfg, seq_len=cfg.seq_len,
        batch_size=cfg.micro_batch_size, num_workers=cfg.num_workers, seed=cfg.seed, packing=not molmo2,
        rank=rank, world_size=world, epochs=None, shuffle=True, split=split, val_fraction=cfg.holdout_fraction,
        pad_to_seq_len=False, model_config=mcfg,
        examples=ExampleConfig(style_kind=cfg.example_style, point_format=mcfg.family),
    )
    per_step = cfg.global_batch_size // (cfg.micro_batch_size * world)
    eval_spec = {"shards": eval_shards, "split": "val" if split else None} if eval_shards else None
    return LoaderSource(loader, per_step), eval_spec
