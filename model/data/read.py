"""The worker side: read this worker's shards only, and turn each of its samples into sequences.

A worker walks the same :class:`~model.data.order.Cursor` as the main process, skips the samples of
units it does not own *before opening their shards*, and streams its own units: one shard open per
source at a time (read whole only with ``shuffle_in_shard``), so memory does not grow with a
source. Resuming in the middle of a shard skips the tar members before the position (no decoding).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from model.data.order import Cursor, Plan, Ref
from pixmo.shards import iter_tar_members, open_url

Raw = tuple[str, dict[str, bytes]]  # (key, {extension: bytes}) of one sample


class Formatter(Protocol):
    """Sample -> sequences (per-example arrays), and sequences -> a batch."""

    def sequences(self, key: str, members: dict[str, bytes], style: str | None,
                  rng: np.random.Generator) -> list[Any]: ...

    def collate(self, seqs: list[Any]) -> dict[str, Any]: ...


class _Unit:
    """The samples of one shard visit, in canonical order from a starting position."""

    def __init__(self, url: str, ref: Ref, cursor: Cursor):
        self.key = (ref.source, ref.epoch, ref.serial)
        self.f = open_url(url)
        members = iter_tar_members(self.f, url.rsplit("/", 1)[-1])
        if cursor.plan.shuffle_in_shard:  # canonical position -> stored index: the shard is read once
            self.table: list[Raw] | None = list(members)
            self.it: Iterator[Raw] | None = None
        else:
            self.table, self.it, self.next_index = None, members, 0

    def get(self, index: int) -> Raw:
        if self.table is not None:
            return self.table[index]
        assert self.it is not None
        while self.next_index < index:  # resume inside a shard: skip members, decode nothing
            next(self.it)
            self.next_index += 1
        self.next_index += 1
        return next(self.it)

    def close(self) -> None:
        self.f.close()


def produce(plan: Plan, state: dict | None, fmt: Formatter, wid: int = 0, nw: int = 1
            ) -> Iterator[tuple[int, list[Any]]]:
    """(rank sample number, its sequences) for the samples worker ``wid`` of ``nw`` owns, in order."""
    cursor = Cursor(plan, state)
    units: dict[int, _Unit] = {}
    try:
        for ref in cursor:
            if ref.owner(nw) != wid:
                continue
            unit = units.get(ref.source)
            if unit is None or unit.key != (ref.source, ref.epoch, ref.serial):
                if unit is not None:
                    unit.close()
                unit = units[ref.source] = _Unit(plan.sources[ref.source].urls[ref.shard], ref, cursor)
            key, members = unit.get(ref.index)
            rng = np.random.default_rng(ref.seed(plan.seed))
            yield ref.k, fmt.sequences(key, members, plan.sources[ref.source].style, rng)
    finally:
        for u in units.values():
            u.close()
