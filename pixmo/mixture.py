"""Mixtures of shard sets with sampling rates (docs/spec/molmo.md section 7.2).

A source's rate is explicit, or proportional to the square root of its size (capped by ``cap``).
Sources may belong to groups with fixed group rates; within a group the square-root rule applies.
``iter_mixture`` draws the source of every slot with ``rng.choice(p=rates)`` and streams samples,
reshuffling each source every epoch with seed ``seed + epoch * 1771`` (shard order, then a bounded
shuffle buffer, so memory does not grow with the size of a source).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixmo.shards import Sample, decode_sample, iter_raw, read_manifest, shard_urls
from pixmo.text import read_mapping


@dataclass
class MixtureSource:
    name: str
    path: str
    rate: float | None = None  # explicit share; None = sqrt(size) rule
    cap: int | None = None  # size cap used by the sqrt rule
    style: str | None = None  # how the model formats this source (e.g. "point_count"); None = default
    group: str | None = None


@dataclass
class MixtureConfig:
    sources: list[MixtureSource]
    group_rates: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> MixtureConfig:
        """Read a mixture from JSON or YAML (.yaml/.yml)."""
        data = read_mapping(path)
        if not isinstance(data.get("sources"), list):
            raise ValueError(f"{path}: a mixture needs a 'sources' list")
        return cls([MixtureSource(**s) for s in data["sources"]], dict(data.get("group_rates") or {}))

    def to_json(self) -> dict[str, Any]:
        return {"sources": [asdict(s) for s in self.sources], "group_rates": self.group_rates}


def source_size(path: str) -> int:
    return int(read_manifest(path)["num_samples"])


def _sqrt_rates(sources: list[MixtureSource], sizes: dict[str, int]) -> dict[str, float]:
    raw = {}
    for s in sources:
        n = sizes[s.name] if s.cap is None else min(sizes[s.name], s.cap)
        raw[s.name] = math.sqrt(max(n, 0))
    total = sum(raw.values())
    if total <= 0:
        raise ValueError(f"sources {[s.name for s in sources]} are all empty")
    return {k: v / total for k, v in raw.items()}


def mixture_rates(cfg: MixtureConfig, sizes: dict[str, int] | None = None) -> dict[str, float]:
    """Sampling rate of every source, summing to 1."""
    names = [s.name for s in cfg.sources]
    if len(set(names)) != len(names):
        raise ValueError(f"source names must be unique: {names}")
    sizes = sizes or {s.name: source_size(s.path) for s in cfg.sources}
    explicit = {s.name: float(s.rate) for s in cfg.sources if s.rate is not None}
    rates: dict[str, float] = dict(explicit)
    grouped: dict[str | None, list[MixtureSource]] = {}
    for s in cfg.sources:
        if s.rate is None:
            grouped.setdefault(s.group, []).append(s)
    ungrouped_share = 1.0 - sum(explicit.values()) - sum(cfg.group_rates.get(g, 0.0) for g in grouped if g)
    for g, members in grouped.items():
        share = cfg.group_rates.get(g, 0.0) if g else ungrouped_share
        if g and g not in cfg.group_rates:
            raise ValueError(f"group {g!r} has no rate in group_rates")
        for k, v in _sqrt_rates(members, sizes).items():
            rates[k] = share * v
    total = sum(rates.values())
    if total <= 0 or any(v < 0 for v in rates.values()):
        raise ValueError(f"invalid mixture rates {rates}")
    return {k: rates[k] / total for k in names}


SHUFFLE_BUFFER = 1000  # samples held per source while streaming: memory does not grow with the source


def _epochs(src: MixtureSource, seed: int, buffer: int = SHUFFLE_BUFFER) -> Iterator[Sample]:
    """Stream a source forever, in a new order each epoch (seed + epoch * 1771): the shards in a
    random order, then a shuffle buffer of ``buffer`` samples. Holds at most ``buffer`` samples."""
    epoch = 0
    while True:
        rng = np.random.default_rng(seed + epoch * 1771)
        urls = shard_urls(src.path)
        buf: list[Sample] = []
        n = 0
        for i in rng.permutation(len(urls)):
            for key, members in iter_raw(urls[int(i)]):
                buf.append(decode_sample(key, members, validate=False))
                n += 1
                if len(buf) >= buffer:
                    yield _pop_random(buf, rng)
        while buf:
            yield _pop_random(buf, rng)
        if n == 0:
            raise ValueError(f"source {src.name!r} at {src.path} has no samples")
        epoch += 1


def _pop_random(buf: list[Sample], rng: np.random.Generator) -> Sample:
    j = int(rng.integers(len(buf)))
    buf[j], buf[-1] = buf[-1], buf[j]
    return buf.pop()


def iter_mixture(cfg: MixtureConfig, seed: int = 0, *, sizes: dict[str, int] | None = None
                 ) -> Iterator[tuple[MixtureSource, Sample]]:
    """An endless stream of (source, sample) drawn with the mixture rates."""
    rates = mixture_rates(cfg, sizes)
    rng = np.random.default_rng(seed)
    streams = {s.name: _epochs(s, seed) for s in cfg.sources}
    by_name = {s.name: s for s in cfg.sources}
    names = list(rates)
    p = np.array([rates[n] for n in names])
    while True:
        name = names[int(rng.choice(len(names), p=p))]
        yield by_name[name], next(streams[name])
