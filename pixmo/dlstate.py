"""What ``pixmo download`` records about finished items: their outcomes and the resumable state.

``ItemState`` appends every finished item (good or failed) of a shard to ``state.jsonl`` and the
bytes of good ones to ``blobs.bin``, so a killed run re-fetches nothing it already finished.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEAD_REASONS = ("http_error", "connect_error", "timeout", "too_many_redirects", "too_large")
WRONG_REASONS = ("sha256_mismatch", "not_an_image", "placeholder")


@dataclass
class Outcome:
    key: str
    ok: bool
    url: str = ""
    reason: str = ""  # one of DEAD_REASONS + WRONG_REASONS when not ok
    detail: str = ""
    status: int | None = None
    attempts: int = 0
    rows: list[int] = field(default_factory=list)
    ext: str = ""  # image format and size, when ok
    width: int = 0
    height: int = 0

    @property
    def kind(self) -> str:
        return "ok" if self.ok else ("wrong" if self.reason in WRONG_REASONS else "dead")


class ItemState:
    """Append-only record of finished items: ``state.jsonl`` (one outcome per line) and ``blobs.bin``
    (the bytes of good images, appended; each line holds its offset and length).

    The blob is written and flushed before its line, so after a kill every complete line points at
    complete bytes; a torn last line is ignored. Two appends per image keep this cheap.
    """

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.file = self.dir / "state.jsonl"
        self.blobs = self.dir / "blobs.bin"
        self._lock = threading.Lock()
        self._where: dict[str, tuple[int, int]] = {}
        self._f: Any = None
        self._b: Any = None

    def load(self) -> dict[str, Outcome]:
        done: dict[str, Outcome] = {}
        if not self.file.exists():
            return done
        size = self.blobs.stat().st_size if self.blobs.exists() else 0
        for line in self.file.read_text().splitlines():
            try:
                d = json.loads(line)
                off, n = d.pop("blob", (0, 0))
                o = Outcome(**d)
            except (json.JSONDecodeError, TypeError, ValueError):
                continue  # a torn last line from a killed run
            if o.ok and off + n > size:
                continue
            done[o.key] = o
            self._where[o.key] = (off, n)
        return done

    def blob(self, key: str) -> bytes:
        off, n = self._where[key]
        with open(self.blobs, "rb") as f:
            f.seek(off)
            return f.read(n)

    def add(self, outcome: Outcome, data: bytes | None) -> None:
        with self._lock:
            if self._f is None:
                self._b, self._f = open(self.blobs, "ab"), open(self.file, "a")
            blob = (0, 0)
            if data is not None:
                blob = (self._b.tell(), len(data))
                self._b.write(data)
                self._b.flush()
            # the fields as they are (asdict deep-copies them, several times slower)
            self._f.write(json.dumps({**vars(outcome), "blob": blob}, sort_keys=True) + "\n")
            self._f.flush()

    def close(self) -> None:
        with self._lock:
            for f in (self._f, self._b):
                if f is not None:
                    f.close()
            self._f = self._b = None
