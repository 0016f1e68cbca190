"""Download the images of a published PixMo subset: parallel, polite, resumable, sha256-checked.

The published rows hold ``image_url`` (and mostly ``image_sha256``), one annotation per row.
``plan_items`` groups the rows by image (by ``image_sha256`` where the subset has it, else by URL),
so every image is fetched once and lands once, with all its annotations. If an image is reachable
under several URLs they are tried in order.

``download_items`` fetches a list of items with a thread pool and one ``pixmo.httpget`` client
(keep-alive connections per thread):

- retries with exponential back-off and jitter on timeouts, connection errors, 429 and 5xx
  (``Retry-After`` honoured, in seconds or as a date, up to ``max_retry_after``); 4xx other than
  429 is final;
- per-host politeness: at most ``per_host`` requests in flight to one host, and at least
  ``host_delay`` seconds between request starts on one host;
- redirects followed (at most ``max_redirects``);
- the body checked against ``image_sha256`` (a mismatch is a "wrong URL"), and decoded far
  enough to know it is a JPEG/PNG/WebP;
- resumable: every finished item (good or failed) is appended to a state file, and the bytes of
  good ones kept beside it, so a killed run re-fetches nothing it already finished.
"""

from __future__ import annotations

import http.client
import queue
import random
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pixmo import httpget, images
from pixmo.dlstate import DEAD_REASONS, WRONG_REASONS, ItemState, Outcome  # noqa: F401 (re-exported)
from pixmo.records import Record, RecordError, parse_record
from pixmo.shards import Annotation, Sample, ShardError, image_info, sha256_hex

RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass
class DownloadConfig:
    threads: int = 32  # concurrent downloads per process
    per_host: int = 8  # max requests in flight to one host
    host_delay: float = 0.0  # min seconds between request starts on one host
    retries: int = 3  # extra tries after the first, for transient failures only
    backoff: float = 0.5  # seconds; try n waits backoff * 2**n (+- 25 % jitter)
    timeout: float = 20.0  # seconds per request (connect, read)
    max_redirects: int = 5
    max_bytes: int = 50 * 2**20
    max_retry_after: float = 60.0  # a server's Retry-After is honoured up to this many seconds
    user_agent: str = "pixmo-toolkit/0.1 (+https://github.com/allenai/molmo)"


@dataclass
class Item:
    """One image to fetch and the published rows (annotations) that refer to it."""

    key: str  # image_sha256, or the URL when the subset publishes no hash
    urls: list[str]
    sha256: str | None
    rows: list[int]
    records: list[Record]  # validated once, when planning


class DownloadError(ValueError):
    """Bad input (missing columns, unknown subset, unreadable parquet)."""


# --- planning ------------------------------------------------------------------------------


def clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """Drop pandas/arrow index columns such as ``__index_level_0__``."""
    return {k: v for k, v in row.items() if not k.startswith("__")}


def plan_items(subset: str, rows: Iterable[dict[str, Any]]) -> tuple[list[Item], list[dict[str, Any]]]:
    """Group rows by image; returns (items in first-seen order, rejected rows with their error)."""
    items: dict[str, Item] = {}
    rejected = []
    for i, raw in enumerate(rows):
        row = clean_row(raw)
        try:
            rec = parse_record(subset, row)
        except RecordError as exc:
            rejected.append({"row": i, "url": row.get("image_url", ""), "reason": "bad_record", "detail": str(exc)})
            continue
        url = getattr(rec, "image_url", "") or ""
        if not url:
            rejected.append({"row": i, "url": "", "reason": "bad_record", "detail": "no image_url"})
            continue
        sha = getattr(rec, "image_sha256", None)
        key = sha or url
        it = items.get(key)
        if it is None:
            items[key] = it = Item(key, [], sha, [], [])
        if url not in it.urls:
            it.urls.append(url)
        it.rows.append(i)
        it.records.append(rec)
    return list(items.values()), rejected


# --- politeness ----------------------------------------------------------------------------


class HostGate:
    """At most ``per_host`` in flight per host and ``delay`` seconds between starts on a host."""

    def __init__(self, per_host: int, delay: float):
        self.per_host, self.delay = max(1, per_host), max(0.0, delay)
        self._lock = threading.Lock()
        self._sems: dict[str, threading.BoundedSemaphore] = {}
        self._next: dict[str, float] = {}

    def _sem(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            if host not in self._sems:
                self._sems[host] = threading.BoundedSemaphore(self.per_host)
            return self._sems[host]

    def acquire(self, host: str) -> None:
        self._sem(host).acquire()
        if self.delay:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next.get(host, 0.0))
                self._next[host] = start + self.delay
            if start > now:
                time.sleep(start - now)

    def release(self, host: str) -> None:
        self._sems[host].release()


# --- fetching ------------------------------------------------------------------------------


class _Failure(Exception):
    def __init__(self, reason: str, detail: str, status: int | None = None, retry: bool = False,
                 wait: float | None = None):
        super().__init__(detail)
        self.reason, self.detail, self.status, self.retry, self.wait = reason, detail, status, retry, wait


def make_client(cfg: DownloadConfig) -> httpget.Client:
    return httpget.Client(timeout=cfg.timeout, max_redirects=cfg.max_redirects, max_bytes=cfg.max_bytes,
                          headers={"User-Agent": cfg.user_agent})


def _get(client: httpget.Client, url: str, cfg: DownloadConfig) -> bytes:
    """One GET (redirects followed); raises _Failure with a reason."""
    try:
        r = client.get(url)
    except httpget.TooLarge as exc:
        raise _Failure("too_large", str(exc)) from None
    except httpget.TooManyRedirects as exc:
        raise _Failure("too_many_redirects", str(exc)) from None
    except (httpget.InvalidURL, UnicodeError) as exc:  # UnicodeError: a host name IDNA cannot encode
        raise _Failure("connect_error", f"invalid URL: {exc}") from None
    except TimeoutError as exc:  # socket.timeout is TimeoutError
        raise _Failure("timeout", f"{type(exc).__name__}: {exc or 'timed out'}", retry=True) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Failure("connect_error", f"{type(exc).__name__}: {exc}", retry=True) from None
    if r.status != 200:
        wait = _retry_after(r.headers.get("retry-after"), cfg.max_retry_after)
        raise _Failure("http_error", f"HTTP {r.status}", r.status, retry=r.status in RETRY_STATUS, wait=wait)
    return r.body


def _retry_after(value: str | None, cap: float = 60.0) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), at most ``cap``."""
    if not value:
        return None
    try:
        secs = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        secs = when.timestamp() - time.time()
    return min(max(secs, 0.0), cap)


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def sniff_image(data: bytes) -> tuple[str, int, int] | None:
    """(ext, width, height) from a JPEG or PNG header without PIL (about 50x faster); None when
    the bytes are something else, the header is unusual or a JPEG carries EXIF (which may turn
    it): the caller then asks ``pixmo.images`` for the displayed size."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return "png", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] != b"\xff\xd8":
        return None
    i, n = 2, len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        seg = int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xE1 and data[i + 4:i + 10] == b"Exif\0\0":
            return None  # may carry an orientation: PIL gives the displayed size
        if marker in _SOF:
            h, w = int.from_bytes(data[i + 5:i + 7], "big"), int.from_bytes(data[i + 7:i + 9], "big")
            return ("jpg", w, h) if w and h else None
        i += 2 + seg
    return None


def _check(data: bytes, sha: str | None) -> tuple[str, int, int]:
    """Raise _Failure unless the bytes match ``sha`` and are an image; returns (ext, width, height)."""
    if sha is not None:
        got = sha256_hex(data)
        if got != sha:
            raise _Failure("sha256_mismatch", f"sha256 {got[:16]}... != expected {sha[:16]}...")
    try:
        ext, w, h = sniff_image(data) or image_info(data)
    except ShardError as exc:
        reason = "too_large" if "over the limit" in str(exc) else "not_an_image"
        raise _Failure(reason, str(exc)) from None
    if w * h > images.MAX_PIXELS:
        raise _Failure("too_large", f"image is {w}x{h} pixels, over the limit of {images.MAX_PIXELS}")
    if sha is None:  # no published hash vouches for the bytes: decode them all (a cut-off body fails)
        try:
            images.decode(data)
        except images.ImageError as exc:
            raise _Failure("not_an_image", str(exc)) from None
    return ext, w, h


def fetch_item(client: httpget.Client, item: Item, cfg: DownloadConfig, gate: HostGate) -> tuple[Outcome, bytes | None]:
    """Try each URL of an item, with retries; the first good body wins."""
    last = Outcome(item.key, False, rows=item.rows)
    attempts = 0
    for url in item.urls:
        host = urlsplit(url).netloc
        for n in range(cfg.retries + 1):
            attempts += 1
            gate.acquire(host)
            try:
                data = _get(client, url, cfg)
                ext, w, h = _check(data, item.sha256)
                return Outcome(item.key, True, url, attempts=attempts, rows=item.rows, ext=ext, width=w,
                               height=h), data
            except _Failure as f:
                last = Outcome(item.key, False, url, f.reason, f.detail, f.status, attempts, item.rows)
                if not f.retry or n == cfg.retries:
                    break
                wait = f.wait if f.wait is not None else cfg.backoff * 2**n
            finally:
                gate.release(host)
            time.sleep(wait * random.uniform(0.75, 1.25))
    return last, None


# --- resumable state -----------------------------------------------------------------------


_SHARED: dict[tuple, tuple[Any, ThreadPoolExecutor]] = {}
_SHARED_LOCK = threading.Lock()


def _shared(cfg: DownloadConfig) -> tuple[Any, ThreadPoolExecutor]:
    """One HTTP client and one thread pool per process and settings, reused by every shard
    (keep-alive connections survive from shard to shard, and threads start once)."""
    key = (cfg.threads, cfg.timeout, cfg.max_redirects, cfg.max_bytes, cfg.user_agent)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = (make_client(cfg), ThreadPoolExecutor(max(1, cfg.threads), thread_name_prefix="pixmo-dl"))
        return _SHARED[key]


def close_shared() -> None:
    """Close the shared clients and thread pools (tests and benchmarks call this between runs)."""
    with _SHARED_LOCK:
        for client, pool in _SHARED.values():
            pool.shutdown(wait=True)
            client.close()
        _SHARED.clear()


def _verified(state: ItemState, items: dict[str, Item]) -> dict[str, Outcome]:
    """Finished outcomes from the state, re-checking the kept bytes of good ones."""
    done = {}
    for key, out in state.load().items():
        if out.ok:
            try:
                _check(state.blob(key), items[key].sha256 if key in items else None)
            except (_Failure, KeyError):
                continue
        done[key] = out
    return done


def download_items(items: list[Item], cfg: DownloadConfig, state: ItemState | None = None,
                   on_done: Any = None) -> Iterator[tuple[Item, Outcome, bytes | None]]:
    """Fetch every item (skipping those already in ``state``); yields in input order."""
    done = _verified(state, {it.key: it for it in items}) if state else {}
    gate = HostGate(cfg.per_host, cfg.host_delay)
    todo = [it for it in items if it.key not in done]

    client, pool = _shared(cfg)
    finished: queue.SimpleQueue = queue.SimpleQueue()
    order = iter(range(len(todo)))  # shared by the workers: next() on it is atomic (GIL)
    stop = threading.Event()

    def worker() -> None:
        """One per thread, taking items until none is left: a Future per image cost a quarter of
        the process's CPU (each makes a Condition and an RLock)."""
        for k in order:
            if stop.is_set():
                return
            it = todo[k]
            try:
                out, data = fetch_item(client, it, cfg, gate)
                if state:
                    state.add(out, data)
                if on_done:
                    on_done(out)
                finished.put((it.key, out, data, None))
            except BaseException as exc:  # handed to the consumer, which raises it
                finished.put((it.key, None, None, exc))

    for _ in range(min(max(1, cfg.threads), len(todo))):
        pool.submit(worker)
    ready: dict[str, tuple[Outcome, bytes | None]] = {}
    try:
        for it in items:
            if it.key in done:
                out = done[it.key]
                yield it, out, (state.blob(it.key) if (state and out.ok) else None)
                continue
            while it.key not in ready:
                key, out_, data_, exc = finished.get()
                if exc is not None:
                    raise exc
                ready[key] = (out_, data_)
            out, data = ready[it.key]  # kept: an item listed twice gets the same answer twice
            yield it, out, data
    finally:
        stop.set()  # the consumer stopped early (or failed): the workers take no new item
        if state:
            state.close()


def item_sample(subset: str, item: Item, outcome: Outcome, data: bytes) -> Sample:
    """The shard sample of a downloaded image with all its annotations."""
    anns = [Annotation(subset, rec, {"row": row}) for row, rec in zip(item.rows, item.records, strict=True)]
    ext, w, h = (outcome.ext, outcome.width, outcome.height) if outcome.ext else image_info(data)
    return Sample(image=data, annotations=anns, image_url=outcome.url, key=item.sha256 or sha256_hex(data),
                  image_ext=ext, width=w, height=h)
