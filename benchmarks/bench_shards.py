"""Shard write/read throughput: pixmo's writer and reader against plain ``tarfile`` and ``webdataset``.

All three write the same pre-encoded samples (JPEG bytes + one pixmo-points record per image) into
the same number of shards, and read them back. Each figure is the best of ``--repeats`` runs, and
is printed as a ratio against a baseline measured in the same run:

- write: pixmo ``ShardWriter`` (building each sample's JSON, hashing every byte for the manifest,
  no fsync: ``durable=False``) vs ``tarfile`` writing the already-encoded members. The default,
  fsync'ed writer is shown too. Target >= 0.9x tarfile.
- read: pixmo ``iter_samples`` (JSON parsed, every record validated into typed objects) vs
  ``webdataset.WebDataset`` yielding raw member bytes. Target >= 1.0x webdataset.

The last line printed is one JSON object with the figures and targets.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pixmo.records import PixmoPoints, Point  # noqa: E402
from pixmo.shards import (  # noqa: E402
    Annotation,
    Sample,
    ShardWriter,
    image_info,
    iter_raw,
    iter_samples,
    sample_members,
)

WRITE_TARGET, READ_TARGET = 0.9, 1.0


def make_samples(n: int, size: int, seed: int = 0, pool: int = 32) -> list[Sample]:
    """Pre-encoded samples: ``pool`` smooth noisy JPEGs (about 50 kB at 384 px), each sample made unique
    by a few bytes after the JPEG end marker (decoders ignore them), plus a points record."""
    rng = np.random.default_rng(seed)
    encoded = []
    for _ in range(pool):
        base = rng.integers(0, 255, (size // 16, size // 16, 3), dtype=np.uint8)
        arr = np.asarray(Image.fromarray(base).resize((size, size), Image.Resampling.BILINEAR)).astype(np.int16)
        arr = arr + rng.integers(-12, 12, (size, size, 3))
        buf = io.BytesIO()
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
        encoded.append(buf.getvalue())
    _, w, h = image_info(encoded[0])
    out = []
    for i in range(n):
        image = encoded[i % pool] + i.to_bytes(4, "big")
        s = Sample(image=image, image_url=f"https://example.com/{i}.jpg", image_ext="jpg", width=w, height=h)
        pts = [Point(x=float(x), y=float(y)) for x, y in rng.uniform(0, 100, (int(rng.integers(0, 6)), 2))]
        s.annotations.append(Annotation.of(PixmoPoints(image_url=s.image_url, image_sha256=s.key, points=pts,
                                                       count=len(pts), label="thing", collection_method="pointing")))
        out.append(s)
    return out


def best_of(repeats: int, fns: dict[str, Callable[[], object]], setup: Callable[[str], None] | None = None,
            ) -> dict[str, float]:
    """Best wall time of each function; the functions take turns so that load drift hits all alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if setup:
                setup(name)
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}


def chunks(samples: list, per_shard: int) -> list[list]:
    return [samples[i : i + per_shard] for i in range(0, len(samples), per_shard)]


def write_tarfile(out: Path, members: list[list[tuple[str, bytes]]], per_shard: int) -> None:
    for j, group in enumerate(chunks(members, per_shard)):
        with tarfile.open(out / f"shard-{j:06d}.tar", "w", format=tarfile.USTAR_FORMAT) as tf:
            for sample in group:
                for name, data in sample:
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = len(data), 0, 0o644
                    tf.addfile(info, io.BytesIO(data))


def write_wds(out: Path, members: list[list[tuple[str, bytes]]], per_shard: int) -> None:
    import webdataset as wds

    with wds.ShardWriter(str(out / "shard-%06d.tar"), maxcount=per_shard, verbose=0, mtime=0) as w:
        for sample in members:
            d: dict[str, str | bytes] = {"__key__": sample[0][0].split(".")[0]}
            d.update({name.split(".", 1)[1]: data for name, data in sample})
            w.write(d)


def write_pixmo(out: Path, samples: list[Sample], per_shard: int, durable: bool) -> None:
    with ShardWriter(out, dataset="bench", max_count=per_shard, resume=False, durable=durable) as w:
        for s in samples:
            w.write(s)


def read_tarfile(urls: list[str]) -> int:
    n, key = 0, None
    for u in urls:
        with tarfile.open(u, "r|") as tf:
            for m in tf:
                f = tf.extractfile(m)
                _ = f.read() if f else b""
                k = m.name.split(".", 1)[0]
                if k != key:
                    n, key = n + 1, k
    return n


def read_wds(urls: list[str]) -> int:
    import webdataset as wds

    return sum(1 for _ in wds.WebDataset(urls, shardshuffle=False, empty_check=False))


def run(n: int, size: int, per_shard: int, repeats: int) -> dict:
    samples = make_samples(n, size)
    members = [sample_members(s) for s in samples]  # pre-encoded bytes for the baselines
    mb = sum(len(d) for m in members for _, d in m) / 1e6
    root = Path(tempfile.mkdtemp(prefix="bench_shards_"))
    try:
        dirs = {k: root / k for k in ("write_tarfile", "write_wds", "write_pixmo", "write_pixmo_durable")}

        def fresh(name: str) -> None:
            shutil.rmtree(dirs[name], ignore_errors=True)
            dirs[name].mkdir()

        t = best_of(repeats, {
            "write_tarfile": lambda: write_tarfile(dirs["write_tarfile"], members, per_shard),
            "write_wds": lambda: write_wds(dirs["write_wds"], members, per_shard),
            "write_pixmo": lambda: write_pixmo(dirs["write_pixmo"], samples, per_shard, False),
            "write_pixmo_durable": lambda: write_pixmo(dirs["write_pixmo_durable"], samples, per_shard, True),
        }, setup=fresh)
        src = dirs["write_pixmo"]
        urls = sorted(str(p) for p in src.glob("*.tar"))
        assert read_wds(urls) == read_tarfile(urls) == sum(1 for _ in iter_samples(src)) == n
        t.update(best_of(repeats, {
            "read_wds": lambda: read_wds(urls),
            "read_tarfile": lambda: read_tarfile(urls),
            "read_pixmo": lambda: sum(1 for _ in iter_samples(src)),
            "read_pixmo_raw": lambda: sum(1 for _ in iter_raw(src)),
        }))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"n": n, "mb": mb, "times": t}


def report(res: dict) -> dict:
    n, mb, t = res["n"], res["mb"], res["times"]
    rows = [
        ("write", "tarfile (baseline)", "write_tarfile", "write_tarfile"),
        ("write", "webdataset ShardWriter", "write_wds", "write_tarfile"),
        ("write", "pixmo ShardWriter (durable=False)", "write_pixmo", "write_tarfile"),
        ("write", "pixmo ShardWriter (fsync, default)", "write_pixmo_durable", "write_tarfile"),
        ("read", "webdataset WebDataset (baseline)", "read_wds", "read_wds"),
        ("read", "tarfile stream", "read_tarfile", "read_wds"),
        ("read", "pixmo iter_samples (validated records)", "read_pixmo", "read_wds"),
        ("read", "pixmo iter_raw (member bytes)", "read_pixmo_raw", "read_wds"),
    ]
    print(f"{n} samples, {mb:.1f} MB of members, best of repeats")
    print("| op | implementation | samples/s | MB/s | ratio vs baseline |\n|---|---|---|---|---|")
    figures = {}
    for op, label, key, base in rows:
        ratio = t[base] / t[key]
        figures[f"{key}_samples_per_s"] = round(n / t[key], 1)
        figures[f"{key}_ratio"] = round(ratio, 3)
        print(f"| {op} | {label} | {n / t[key]:,.0f} | {mb / t[key]:,.0f} | {ratio:.2f}x |")
    passed = figures["write_pixmo_ratio"] >= WRITE_TARGET and figures["read_pixmo_ratio"] >= READ_TARGET
    return {"bench": "shards", "samples": n, "mb": round(mb, 2), "figures": figures,
            "targets": {"write_pixmo_ratio": f">= {WRITE_TARGET}", "read_pixmo_ratio": f">= {READ_TARGET}"},
            "pass": passed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small run (< 2 minutes)")
    ap.add_argument("--n", type=int, default=None, help="number of samples")
    ap.add_argument("--size", type=int, default=384, help="image side in pixels")
    ap.add_argument("--per-shard", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args()
    n = args.n or (2000 if args.quick else 8000)
    repeats = args.repeats or (3 if args.quick else 5)
    print(json.dumps(report(run(n, args.size, args.per_shard, repeats))))


if __name__ == "__main__":
    main()
