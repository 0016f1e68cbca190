"""Small helpers shared by the generators: image encoding and run options.

A generator's *config* is what its shards' bytes depend on: the runner fingerprints it per shard and
writes it to the manifest. *Run options* say how much to make and how to run it (``--num``,
``--workers``, ``--threads``, time limits): they are not fingerprinted, so changing them reuses
the shards already finished (``generators/runner.py``).
"""

from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from generators.runner import ShardTask, plan_tasks


def encode_jpeg(arr: np.ndarray | Image.Image, quality: int = 90) -> bytes:
    """Deterministic baseline JPEG (no optimisation pass, 4:2:0) of an RGB array or image."""
    im = arr if isinstance(arr, Image.Image) else Image.fromarray(arr)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@dataclass(frozen=True)
class RunOptions:
    """How to run a generator (not part of what it makes, so not stored in its config).

    ``num`` is how many items to make (generators that convert inputs leave it ``None``); the
    items, cut into shards of ``per_shard``, are fingerprinted per shard, so a larger ``num``
    with the same seed reuses every finished full shard."""

    out: str
    seed: int = 0
    num: int | None = None
    workers: int = 1
    executor: str = "local"
    per_shard: int = 100
    split: str = "train"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.num is not None and self.num < 1:
            raise ValueError(f"--num must be at least 1, got {self.num}")
        if self.executor not in ("local", "ray"):
            raise ValueError(f"--executor must be 'local' or 'ray', got {self.executor!r}")
        if self.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {self.workers}")
        if self.per_shard < 1:
            raise ValueError(f"--per-shard must be at least 1, got {self.per_shard}")

    def tasks(self) -> list[ShardTask]:
        """Items ``0 .. num-1`` in shards of ``per_shard`` (``plan_tasks``)."""
        if self.num is None:
            raise ValueError("RunOptions.tasks() needs num")
        return plan_tasks(range(self.num), self.per_shard, self.seed)


def package_dir(name: str) -> Path | None:
    """The folder of an installed package, without importing it (None if not installed)."""
    spec = importlib.util.find_spec(name)
    return Path(list(spec.submodule_search_locations)[0]) if spec and spec.submodule_search_locations else None
