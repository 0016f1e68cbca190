"""The rank's loader: worker processes read and preprocess, the main process batches in canonical order.

Worker ``w`` of ``n`` produces the samples of the units it owns (``model.data.order``) into its own
bounded queue, running up to ``prefetch`` samples ahead of the step; the main process walks the same
order and takes sample ``k`` from its owner's queue, so batches never depend on ``n``. After each batch
:attr:`Loader.state` is the position of the next sequence: the cursor at the first sample not fully
emitted plus ``skip``, how many of that sample's sequences were already emitted (the packer's
carry-over). :meth:`Loader.set_state` resumes there: workers open the shard of that position and skip
to it, nothing earlier is read again.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from collections.abc import Generator, Iterator
from typing import Any

from model.data.order import Cursor, Plan
from model.data.read import Formatter, produce

_END = "end"


def _worker(plan: Plan, state: dict | None, fmt: Formatter, wid: int, nw: int, q: Any) -> None:
    import torch

    torch.set_num_threads(1)
    parent = os.getppid()
    try:
        for item in produce(plan, state, fmt, wid, nw):
            _put(q, ("ok", item), parent)
        _put(q, (_END, None), parent)
    except Exception as exc:  # noqa: BLE001 - carried to the main process, which raises it with its message
        _put(q, ("error", f"{type(exc).__name__}: {exc}"), parent)


def _put(q: Any, item: Any, parent: int) -> None:
    """Wait for room in the queue, but leave when the main process is gone (killed: nobody will read)."""
    while True:
        try:
            q.put(item, timeout=2.0)
            return
        except queue.Full:
            if os.getppid() != parent:
                os._exit(0)  # no exit handlers: they would wait to flush items nobody reads


class Loader:
    """Iterable of batches for one rank; ``state``/``set_state`` make it resumable exactly."""

    def __init__(self, plan: Plan, fmt: Formatter, batch_size: int, *, num_workers: int = 0, prefetch: int = 8,
                 drop_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, not {batch_size}")
        self.plan, self.fmt, self.batch_size = plan, fmt, batch_size
        self.num_workers, self.prefetch, self.drop_last = num_workers, max(prefetch, 1), drop_last
        self.state: dict = Cursor(plan).snapshot()

    def set_state(self, state: dict) -> None:
        Cursor(self.plan, state)  # raises when the state belongs to other data, order or rank
        self.state = dict(state)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch, state in self.iter_with_state():
            self.state = state
            yield batch

    def iter_with_state(self) -> Generator[tuple[dict[str, Any], dict], None, None]:
        """(batch, the state after it): a consumer that prefetches keeps the state of what it used."""
        start = dict(self.state)
        cursor = Cursor(self.plan, start)
        samples = self._samples(start)
        skip, pending = int(start.get("skip", 0)), []
        while True:
            before = cursor.snapshot()
            ref = next(cursor, None)
            if ref is None:
                break
            k, seqs = next(samples)
            if k != ref.k:
                raise RuntimeError(f"loader out of order: expected sample {ref.k}, got {k}")
            for j in range(skip, len(seqs)):
                pending.append(seqs[j])
                if len(pending) == self.batch_size:
                    after = cursor.snapshot() if j + 1 == len(seqs) else {**before, "skip": j + 1}
                    yield self.fmt.collate(pending), after
                    pending = []
            skip = 0
        if pending and not self.drop_last:
            yield self.fmt.collate(pending), cursor.snapshot()

    def _samples(self, state: dict) -> Iterator[tuple[int, list[Any]]]:
        if self.num_workers <= 0:
            yield from produce(self.plan, state, self.fmt)
            return
        ctx = mp.get_context("fork")
        nw = self.num_workers
        queues = [ctx.Queue(maxsize=self.prefetch) for _ in range(nw)]
        procs = [ctx.Process(target=_worker, args=(self.plan, state, self.fmt, w, nw, queues[w]), daemon=True)
                 for w in range(nw)]
        for p in procs:
            p.start()
        try:
            cursor = Cursor(self.plan, state)
            for ref in cursor:
                w = ref.owner(nw)
                kind, item = self._get(queues[w], procs[w])
                if kind == "error":
                    raise ValueError(f"data worker {w}: {item}")
                if kind == _END:
                    raise RuntimeError(f"data worker {w} ended before sample {ref.k}")
                yield item
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()
                p.join()

    @staticmethod
    def _get(q: Any, proc: Any) -> tuple[str, Any]:
        while True:
            try:
                return q.get(timeout=5.0)  # type: ignore[no-any-return]
            except queue.Empty:
                if not proc.is_alive():
                    raise RuntimeError(f"data worker pid {proc.pid} died (exit code {proc.exitcode})") from None
