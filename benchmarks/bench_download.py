"""`pixmo download` throughput: images/s per core with sha256 checks and shard writing, against
plain HTTP GETs of the same files, in one run.

    .venv/bin/python benchmarks/bench_download.py [--quick] [--num N] [--threads T]

The images (distinct 256x256 JPEG crops of the bundled sample photos, ~20 kB) are served from a
separate process (``pipelines.fake_image_server``, HTTP/1.1 keep-alive on 127.0.0.1), so the
client's CPU time is its own. "Per core" = images / CPU-seconds of the client process (all its
threads), i.e. what one busy core sustains. Baseline: the same httpx client and thread count doing
GET + read body only. Runs are interleaved (plain, download, plain, download ...) and the best of
each is kept. Targets: >= 60 images/s per core (img2dataset's per-core figure) and a wall rate
>= 0.8 of the plain GETs. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.download import import_subset  # noqa: E402
from pipelines.samples import BUNDLED, bundled_path  # noqa: E402
from pixmo.download import DownloadConfig, close_shared, make_client  # noqa: E402
from pixmo.shards import sha256_hex  # noqa: E402


def make_images(directory: Path, n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    photos = [np.asarray(Image.open(bundled_path(b)).convert("RGB")) for b in BUNDLED]
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    i = 0
    while len(out) < n:  # distinct images only (two random crops can coincide)
        i += 1
        ph = photos[i % len(photos)]
        s = int(rng.integers(128, min(ph.shape[:2]) + 1))
        y, x = int(rng.integers(0, ph.shape[0] - s + 1)), int(rng.integers(0, ph.shape[1] - s + 1))
        buf = io.BytesIO()
        Image.fromarray(ph[y:y + s, x:x + s]).resize((256, 256)).save(buf, "JPEG", quality=85)
        sha = sha256_hex(buf.getvalue())
        if sha in seen:
            continue
        seen.add(sha)
        name = f"{len(out):06d}.jpg"
        (directory / name).write_bytes(buf.getvalue())
        out.append((name, sha))
    return out


def plain_gets(urls: list[str], cfg: DownloadConfig) -> tuple[float, float, int]:
    def get(u: str) -> int:
        r = client.get(u)
        return len(r.content) if r.status_code == 200 else 0

    c0, t0 = time.process_time(), time.perf_counter()
    with make_client(cfg) as client, ThreadPoolExecutor(cfg.threads) as pool:
        ok = sum(1 for n in pool.map(get, urls) if n)
    return time.perf_counter() - t0, time.process_time() - c0, ok


def pixmo_download(parquet: Path, out: Path, cfg: DownloadConfig, per_shard: int) -> tuple[float, float, int]:
    c0, t0 = time.process_time(), time.perf_counter()
    s = import_subset("pixmo-points", str(parquet), out, dl=cfg, images_per_shard=per_shard, progress=False)
    close_shared()  # like the baseline, every run starts with a fresh client and threads
    if s["ok"] != s["images"]:
        print("failures:", json.loads((out / "failures.json").read_text())["by_reason"], file=sys.stderr)
    return time.perf_counter() - t0, time.process_time() - c0, int(s["ok"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 images, 2 rounds (< 2 minutes)")
    ap.add_argument("--num", type=int, default=None)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=None)
    a = ap.parse_args()
    n = a.num or (1000 if a.quick else 4000)
    rounds = a.rounds or (2 if a.quick else 3)
    cfg = DownloadConfig(threads=a.threads, per_host=a.threads, retries=1, timeout=30)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        (tmp_p / "img").mkdir()
        files = make_images(tmp_p / "img", n)
        server = subprocess.Popen([sys.executable, "-m", "pipelines.fake_image_server", str(tmp_p / "img")],
                                  cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            base = server.stdout.readline().strip() if server.stdout else ""
            urls = [f"{base}/{name}" for name, _ in files]
            rows = [{"image_url": u, "image_sha256": sha, "points": [{"x": 50.0, "y": 50.0}], "count": 1,
                     "label": "thing", "collection_method": "pointing"} for u, (_, sha) in zip(urls, files, strict=True)]
            pq.write_table(pa.Table.from_pylist(rows), tmp_p / "rows.parquet")
            plain, dl = [], []
            for r in range(rounds):
                plain.append(plain_gets(urls, cfg))
                dl.append(pixmo_download(tmp_p / "rows.parquet", tmp_p / f"out{r}", cfg, per_shard=1000))
        finally:
            server.terminate()
            server.wait()
    best_plain = min(plain)
    best_dl = min(dl)
    assert best_plain[2] == n and best_dl[2] == n, (best_plain, best_dl)
    res = {
        "images": n, "threads": a.threads, "rounds": rounds,
        "plain_get_images_per_s": n / best_plain[0], "plain_get_images_per_cpu_s": n / best_plain[1],
        "download_images_per_s": n / best_dl[0], "download_images_per_s_per_core": n / best_dl[1],
        "ratio_vs_plain_get": best_plain[0] / best_dl[0],
        "cpu_ratio_vs_plain_get": best_plain[1] / best_dl[1],
        "targets": {"download_images_per_s_per_core": 60, "ratio_vs_plain_get": 0.8},
    }
    res["meets_targets"] = bool(res["download_images_per_s_per_core"] >= 60 and res["ratio_vs_plain_get"] >= 0.8)
    print(f"{'':28}{'images/s':>10}{'images/cpu-s':>14}{'ratio':>8}")
    print(f"{'plain GET (baseline)':28}{res['plain_get_images_per_s']:>10.0f}{res['plain_get_images_per_cpu_s']:>14.0f}"
          f"{1.0:>8.2f}")
    print(f"{'pixmo download':28}{res['download_images_per_s']:>10.0f}{res['download_images_per_s_per_core']:>14.0f}"
          f"{res['ratio_vs_plain_get']:>8.2f}")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}))


if __name__ == "__main__":
    main()
