"""The global deterministic sample order of a rank, computed from manifests alone (no shard is read).

A *source* is a list of shards with known sample counts (a shard directory's ``manifest.json``, or
several directories concatenated). Epoch ``e`` of source ``s`` visits its shards in the order
``permutation(rng(seed, s, e))`` (identity when not shuffling); the shard at position ``p`` belongs to
rank ``(e * n_shards + p) % world``, so the ranks split every epoch's shards between them (and a source
with fewer shards than ranks still reaches every rank, in turn). Inside a shard the samples are taken in
stored order, or in ``permutation(rng(seed, s, e, shard))`` with ``shuffle_in_shard``.

A mixture draws the source of the rank's ``n``-th sample from block ``n // DRAW_BLOCK`` of draws seeded
by ``(seed, rank, block)``: any draw is found without replaying the earlier ones.

:class:`Cursor` walks that order; its :meth:`Cursor.state` (a small JSON-able dict) is the whole
position, so resuming is O(shards), never O(step). DataLoader workers own *units* (one shard visit):
unit ``serial`` of source ``s`` goes to worker ``(serial + s) % num_workers``; the order itself does not
depend on the number of workers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pixmo.shards import read_manifest, shard_urls

DRAW_BLOCK = 4096
STATE_VERSION = 1


@dataclass(frozen=True)
class Source:
    """Shards (URLs or paths) with their sample counts; ``style`` formats the source's examples."""

    name: str
    urls: tuple[str, ...]
    counts: tuple[int, ...]
    style: str | None = None

    @classmethod
    def of(cls, paths: list[str], name: str = "shards", style: str | None = None) -> Source:
        urls: list[str] = []
        counts: list[int] = []
        for p in paths:
            u, c = _shards_of(str(p))
            urls += u
            counts += c
        if sum(counts) == 0:
            raise ValueError(f"source {name!r} ({', '.join(map(str, paths))}) has no samples")
        return cls(name, tuple(urls), tuple(counts), style)


def _shards_of(path: str) -> tuple[list[str], list[int]]:
    """Shard URLs of a directory (or one .tar of a directory) and their counts, from the manifest."""
    if path.endswith(".tar"):
        base, _, name = path.rstrip("/").rpartition("/")
        counts = {sh["name"]: int(sh["samples"]) for sh in read_manifest(base or ".")["shards"]}
        if name not in counts:
            raise ValueError(f"{path}: not listed in {base}/manifest.json")
        return [path], [counts[name]]
    return shard_urls(path), [int(sh["samples"]) for sh in read_manifest(path)["shards"]]


@dataclass(frozen=True)
class Plan:
    """What a rank reads: sources, optional mixture rates, and how the order is seeded."""

    sources: tuple[Source, ...]
    rank: int = 0
    world: int = 1
    seed: int = 0
    shuffle: bool = False  # epoch-seeded shard order
    epochs: int | None = 1  # None: forever (mixtures are always endless)
    rates: tuple[float, ...] | None = None  # a mixture: the sampling rate of every source
    max_samples: int | None = None  # per rank
    shuffle_in_shard: bool = False  # also an epoch-seeded order inside each shard (holds one shard per source)

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world:
            raise ValueError(f"rank {self.rank} is outside world_size {self.world}")
        if self.rates is not None and len(self.rates) != len(self.sources):
            raise ValueError("a mixture needs one rate per source")

    def fingerprint(self) -> str:
        """Identifies the data and its order (not the rank): a resumed run must read the same."""
        blob = json.dumps([[s.urls, s.counts] for s in self.sources]
                          + [self.seed, self.shuffle, self.rates, self.shuffle_in_shard])
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Ref:
    """One sample of the rank's order: ``k``-th of the rank, stored ``index`` of ``shard`` of ``source``."""

    k: int
    source: int
    epoch: int
    shard: int
    index: int
    serial: int  # unit (shard visit) number of this source on this rank

    def owner(self, num_workers: int) -> int:
        return (self.serial + self.source) % max(num_workers, 1)

    def seed(self, base: int) -> list[int]:
        """Seed of the sample's formatting rng: the same whatever the world size or worker count."""
        return [base, self.source, self.epoch, self.shard, self.index]


@dataclass
class _Pos:
    epoch: int = 0
    unit: int = 0  # position in the rank's shard list of this epoch
    index: int = 0  # canonical position inside the shard
    serial: int = 0


@dataclass
class Cursor:
    """Walks a plan's order from a state (None: the start)."""

    plan: Plan
    state: dict | None = None
    k: int = 0
    pos: list[_Pos] = field(default_factory=list)
    _lists: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    _perms: dict[tuple[int, int, int], np.ndarray] = field(default_factory=dict)
    _draws: tuple[int, np.ndarray] | None = None
    _fingerprint: str = ""

    def __post_init__(self) -> None:
        self._fingerprint = self.plan.fingerprint()
        self.pos = [_Pos() for _ in self.plan.sources]
        if self.state is not None:
            check_state(self.state, self.plan)
            self.k = int(self.state["sample"])
            self.pos = [_Pos(*p) for p in self.state["sources"]]

    def snapshot(self) -> dict:
        p = self.plan
        return {"version": STATE_VERSION, "fingerprint": self._fingerprint, "rank": p.rank, "world": p.world,
                "sample": self.k, "sources": [[q.epoch, q.unit, q.index, q.serial] for q in self.pos], "skip": 0}

    def shard_list(self, s: int, epoch: int) -> list[int]:
        """The shards of source ``s`` this rank visits in ``epoch``, in order."""
        key = (s, epoch)
        if key not in self._lists:
            p, src = self.plan, self.plan.sources[s]
            n = len(src.urls)
            perm = np.random.default_rng([p.seed, s, epoch]).permutation(n) if p.shuffle else np.arange(n)
            self._lists = {k: v for k, v in self._lists.items() if k[0] != s}  # keep one epoch per source
            self._lists[key] = [int(perm[i]) for i in range(n)
                                if (epoch * n + i) % p.world == p.rank and src.counts[int(perm[i])] > 0]
        return self._lists[key]

    def stored_index(self, s: int, epoch: int, shard: int, i: int) -> int:
        if not self.plan.shuffle_in_shard:
            return i
        key = (s, epoch, shard)
        if key not in self._perms:
            self._perms = {key: np.random.default_rng([self.plan.seed, s, epoch, shard, 1]).permutation(
                self.plan.sources[s].counts[shard])} | {k: v for k, v in self._perms.items() if k[0] != s}
        return int(self._perms[key][i])

    def _pick(self) -> int:
        p = self.plan
        if p.rates is None:
            return 0
        block, off = divmod(self.k, DRAW_BLOCK)
        if self._draws is None or self._draws[0] != block:
            rng = np.random.default_rng([p.seed, p.rank, block, 2])
            self._draws = (block, rng.choice(len(p.sources), size=DRAW_BLOCK, p=np.asarray(p.rates)))
        return int(self._draws[1][off])

    def __iter__(self) -> Iterator[Ref]:
        return self

    def __next__(self) -> Ref:
        p = self.plan
        if p.max_samples is not None and self.k >= p.max_samples:
            raise StopIteration
        s = self._pick()
        q = self.pos[s]
        shards = self._settle(s, q)
        shard = shards[q.unit]
        ref = Ref(self.k, s, q.epoch, shard, self.stored_index(s, q.epoch, shard, q.index), q.serial)
        q.index += 1
        if q.index == p.sources[s].counts[shard]:
            q.unit, q.index, q.serial = q.unit + 1, 0, q.serial + 1
        self.k += 1
        return ref

    def _settle(self, s: int, q: _Pos) -> list[int]:
        """Move ``q`` past finished epochs (and epochs with no shard for this rank); stop at the end."""
        p = self.plan
        for _ in range(p.world + 1):
            if p.rates is None and p.epochs is not None and q.epoch >= p.epochs:
                raise StopIteration
            shards = self.shard_list(s, q.epoch)
            if q.unit < len(shards):
                return shards
            q.epoch, q.unit, q.index = q.epoch + 1, 0, 0
        raise ValueError(f"source {p.sources[s].name!r} has no samples for rank {p.rank}")


def check_state(state: dict, plan: Plan) -> None:
    """A saved state must belong to this data, order and rank: say which part differs."""
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"loader state version {state.get('version')} is not {STATE_VERSION}")
    if state["fingerprint"] != plan.fingerprint():
        raise ValueError("loader state was saved for other shards, seed or mixture rates "
                         f"({state['fingerprint']} != {plan.fingerprint()})")
    if (state["rank"], state["world"]) != (plan.rank, plan.world):
        raise ValueError(f"loader state is for rank {state['rank']} of {state['world']}, "
                         f"not rank {plan.rank} of {plan.world}")
    if len(state["sources"]) != len(plan.sources):
        raise ValueError("loader state has a different number of sources")


def plan_sources(source: str | Path | list, mixture=None) -> tuple[tuple[Source, ...], tuple[float, ...] | None]:
    """Sources (and rates) of shard paths/URLs, or of a ``pixmo.mixture.MixtureConfig``."""
    if mixture is None:
        paths = source if isinstance(source, list) else [source]
        return (Source.of([str(x) for x in paths]),), None
    from pixmo.mixture import mixture_rates

    srcs = tuple(Source.of([s.path], s.name, s.style) for s in mixture.sources)
    rates = mixture_rates(mixture, {s.name: sum(x.counts) for s in mixture.sources for x in srcs
                                    if x.name == s.name})
    return srcs, tuple(rates[s.name] for s in mixture.sources)
