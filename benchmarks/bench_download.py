"""`pixmo download` against img2dataset, the usual tool for this job, on the same images.

    .venv/bin/python benchmarks/bench_download.py [--quick] [--num N] [--rounds R] [--img2dataset PATH]

Both tools fetch the same distinct 256x256 JPEGs (~16 kB) from one local server process
(``pipelines.fake_image_server``, HTTP/1.1 on 127.0.0.1), keep the original bytes, check each
image's published sha256 and write 1,000-image tar shards; every output is then read back and
every image's sha256 checked. img2dataset runs with ``--resize_mode no --skip_reencode True
--encode_format jpg --verify_hash '["image_sha256","sha256"]' --extract_exif False`` (its lightest
settings that still check the hash); pixmo download with its defaults (fsync per shard, resume
state) but ``--threads`` as given. Both get the same thread count, with 1 and with 2 processes.

Runs are interleaved (pixmo 1, img2dataset 1, pixmo 2, img2dataset 2, then again) and the median of
the rounds is kept. Two rates per run:

- **steady**: images / (last shard's end - first shard's start), from each tool's own per-shard
  stats (img2dataset's ``*_stats.json``, pixmo's ``*.stats.json``): start-up (imports, worker
  processes, reading the input) left out, as it is for a 712k-URL subset;
- **wall**: images / the whole command, start-up included.

Also per run: images per CPU-second of the tool (all its processes and threads) and "server busy",
the image server's CPU share of the run (it is one Python process: near 1.0 it, not the tool, is
the limit, as with 2 processes on a 2-core machine).

img2dataset is an optional benchmark dependency (the ``bench`` extra of pyproject.toml). Its pins
clash with ours (pandas<3, webdataset<1), so ``make bench-peers`` installs it into its own
environment, ``.bench-venv/``, where this script finds it (or pass ``--img2dataset PATH``, or
have it on PATH). Without it only the pixmo column is measured. Target: pixmo's steady rate with
one process >= 1.5x img2dataset's. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.samples import BUNDLED, bundled_path  # noqa: E402
from pixmo.shards import iter_samples, sha256_hex  # noqa: E402

PER_SHARD = 1000
TARGET = 1.5


def make_images(directory: Path, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """n distinct 256x256 JPEG crops of the bundled photos; returns (file name, sha256)."""
    rng = np.random.default_rng(seed)
    photos = [Image.open(bundled_path(b)).convert("RGB") for b in BUNDLED]
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    i = 0
    while len(out) < n:  # distinct images only (two random crops can coincide)
        i += 1
        ph = photos[i % len(photos)]
        s = int(rng.integers(128, min(ph.size) + 1))
        x, y = int(rng.integers(0, ph.size[0] - s + 1)), int(rng.integers(0, ph.size[1] - s + 1))
        buf = io.BytesIO()
        ph.resize((256, 256), Image.Resampling.BILINEAR, box=(x, y, x + s, y + s)).save(buf, "JPEG", quality=85)
        sha = sha256_hex(buf.getvalue())
        if sha in seen:
            continue
        seen.add(sha)
        name = f"{len(out):06d}.jpg"
        (directory / name).write_bytes(buf.getvalue())
        out.append((name, sha))
    return out


def find_img2dataset(given: str | None) -> str | None:
    for cand in (given, str(ROOT / ".bench-venv" / "bin" / "img2dataset"), shutil.which("img2dataset")):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    if given:
        sys.exit(f"error: --img2dataset {given}: not an executable file")
    return None


def pixmo_cmd(parquet: Path, out: Path, procs: int, threads: int) -> list[str]:
    return [sys.executable, "-m", "pixmo.cli", "download", "pixmo-points", "--parquet", str(parquet),
            "--out", str(out), "--threads", str(threads), "--per-host", str(threads), "--workers", str(procs),
            "--per-shard", str(PER_SHARD), "--retries", "1", "--timeout", "30"]


def i2d_cmd(exe: str, parquet: Path, out: Path, procs: int, threads: int) -> list[str]:
    return [exe, "--url_list", str(parquet), "--input_format", "parquet", "--url_col", "image_url",
            "--output_format", "webdataset", "--output_folder", str(out), "--processes_count", str(procs),
            "--thread_count", str(threads), "--number_sample_per_shard", str(PER_SHARD), "--resize_mode", "no",
            "--skip_reencode", "True", "--encode_format", "jpg", "--verify_hash", '["image_sha256","sha256"]',
            "--compute_hash", "sha256", "--extract_exif", "False", "--enable_wandb", "False", "--retries", "1",
            "--timeout", "30"]


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its children)."""
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"}
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(k, None)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"error: {cmd[0]} {cmd[1] if len(cmd) > 1 else ''} failed:\n{p.stderr[-2000:]}")
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def pixmo_span(out: Path, expected: set[str]) -> float:
    got = []
    for s in iter_samples(out):
        assert sha256_hex(s.image) == s.key
        got.append(s.key)
    assert len(got) == len(expected) and set(got) == expected, "pixmo: images missing or duplicated"
    st = [json.loads(p.read_text()) for p in out.glob("*.stats.json")]
    if any("started" not in s for s in st):  # stats of toolkit versions before 2026-12 (one process)
        return sum(s["seconds"] for s in st)
    return max(s["started"] + s["seconds"] for s in st) - min(s["started"] for s in st)


def i2d_span(out: Path, expected: set[str]) -> float:
    got = []
    for tar in sorted(out.glob("*.tar")):
        with tarfile.open(tar) as tf:
            got += [sha256_hex(tf.extractfile(m).read()) for m in tf if m.name.endswith(".jpg")]  # type: ignore[union-attr]
    assert len(got) == len(expected) and set(got) == expected, "img2dataset: images missing or wrong"
    st = [json.loads(p.read_text()) for p in out.glob("*_stats.json")]
    return max(s["end_time"] for s in st) - min(s["start_time"] for s in st)


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(tool: str, procs: int, a: argparse.Namespace, parquet: Path, out: Path, expected: set[str],
            server: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = (pixmo_cmd(parquet, out, procs, a.threads) if tool == "pixmo"
           else i2d_cmd(a.img2dataset, parquet, out, procs, a.threads))
    load, s0 = os.getloadavg()[0], cpu_seconds(server)
    wall, cpu = timed(cmd)
    server_cpu = cpu_seconds(server) - s0
    span = (pixmo_span if tool == "pixmo" else i2d_span)(out, expected)
    shutil.rmtree(out, ignore_errors=True)
    n = len(expected)
    # server_busy: the image server's CPU share of the run's wall time (near 1.0 = the server is the limit)
    return {"steady": n / span, "wall": n / wall, "per_cpu_s": n / cpu, "server_busy": server_cpu / wall,
            "load": load}


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 images, 1 round, 1 process only (< 1 minute)")
    ap.add_argument("--num", type=int, default=None, help="images (default 4,000)")
    ap.add_argument("--threads", type=int, default=16, help="download threads per process, both tools")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3; median kept)")
    ap.add_argument("--img2dataset", default=None, help="img2dataset executable (default: .bench-venv/bin or PATH)")
    a = ap.parse_args()
    a.img2dataset = find_img2dataset(a.img2dataset)
    n = a.num or (1000 if a.quick else 4000)
    rounds = a.rounds or (1 if a.quick else 3)
    procs_list = [1] if a.quick else [1, 2]
    tools = ["pixmo"] + (["img2dataset"] if a.img2dataset else [])
    if not a.img2dataset:
        print("img2dataset not found: measuring pixmo only (see --help for installing it)", file=sys.stderr)
    runs: dict[tuple[str, int], list[dict]] = {(t, p): [] for t in tools for p in procs_list}
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        (tmp_p / "img").mkdir()
        files = make_images(tmp_p / "img", n)
        server = subprocess.Popen([sys.executable, "-m", "pipelines.fake_image_server", str(tmp_p / "img")],
                                  cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            base = server.stdout.readline().strip() if server.stdout else ""
            rows = [{"image_url": f"{base}/{name}", "image_sha256": sha, "points": [{"x": 50.0, "y": 50.0}],
                     "count": 1, "label": "thing", "collection_method": "pointing"} for name, sha in files]
            pq.write_table(pa.Table.from_pylist(rows), tmp_p / "rows.parquet")
            expected = {sha for _, sha in files}
            for r in range(rounds):
                order = [(t, p) for p in procs_list for t in (tools if r % 2 == 0 else tools[::-1])]
                for t, p in order:
                    runs[(t, p)].append(one_run(t, p, a, tmp_p / "rows.parquet", tmp_p / f"out-{t}-{p}", expected,
                                                server.pid))
        finally:
            server.terminate()
            server.wait()
    report(runs, tools, procs_list, n, rounds, a.threads, load0)


def report(runs: dict, tools: list[str], procs_list: list[int], n: int, rounds: int, threads: int,
           load0: tuple[float, float, float]) -> None:
    med = {k: median_of(v) for k, v in runs.items()}
    print(f"{n} images, {threads} threads per process, median of {rounds} interleaved round(s); "
          f"load average at start {load0[0]:.1f} {load0[1]:.1f} {load0[2]:.1f}, now "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'tool':14}{'procs':>6}{'steady img/s':>14}{'wall img/s':>12}{'img/CPU-s':>11}{'server busy':>12}"
          f"{'ratio steady':>14}{'ratio wall':>12}")
    res: dict = {"bench": "download", "images": n, "threads": threads, "rounds": rounds, "load_start": load0[0]}
    for p in procs_list:
        for t in tools:
            m = med[(t, p)]
            peer = med.get(("img2dataset", p))
            rs = m["steady"] / peer["steady"] if peer else float("nan")
            rw = m["wall"] / peer["wall"] if peer else float("nan")
            print(f"{t:14}{p:>6}{m['steady']:>14.0f}{m['wall']:>12.0f}{m['per_cpu_s']:>11.0f}{m['server_busy']:>12.2f}"
                  f"{rs:>13.2f}x{rw:>11.2f}x")
            res[f"{t}_{p}proc"] = {k: round(v, 2) for k, v in m.items()}
            if t == "pixmo" and peer:
                res[f"ratio_steady_{p}proc"], res[f"ratio_wall_{p}proc"] = round(rs, 2), round(rw, 2)
    res["target_ratio_steady_1proc"] = TARGET
    res["met"] = bool(res["ratio_steady_1proc"] >= TARGET) if "ratio_steady_1proc" in res else None
    res["load_end"] = os.getloadavg()[0]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
