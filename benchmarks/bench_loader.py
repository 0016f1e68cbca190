"""The training loader (model.data): throughput per core, resume time, and memory as a mixture source grows.

    .venv/bin/python benchmarks/bench_loader.py [--samples 300] [--small 500] [--draws 2000]

1. Samples/s per core (samples over the process's CPU seconds, one process, no workers) of the whole
   path: read + decode + preprocess (tiny model's tiling) + format + pack + collate, against upstream
   ``webdataset`` reading the same shards and handing each sample to the same formatter and collator;
   plus the bare read of both (member bytes only).
2. Resume time: a loader set to the state of step 10 and of step 10,000 (batch 4, the set repeated)
   until its first batch is out; the old loader rebuilt and dropped every earlier batch instead.
3. Peak RSS of a fresh process streaming ``--draws`` samples of a two-source mixture through the
   loader while one source grows 10x (``--small`` and 10x ``--small`` images).
Prints markdown tables and one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_set(out: Path, n: int, seed: int, size: int = 192, annotations: int = 3) -> None:
    """``n`` JPEG images (noise over a gradient), each with ``annotations`` pointing records."""
    import numpy as np
    from PIL import Image

    from pixmo.records import parse_record
    from pixmo.shards import Annotation, Sample, sha256_hex, write_samples

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, size, dtype=np.float32)[None, :, None]

    def samples():
        for _ in range(n):
            px = (ramp + rng.integers(0, 55, (size * 3 // 4, size, 3))).astype(np.uint8)
            buf = io.BytesIO()
            Image.fromarray(px).save(buf, "JPEG", quality=90)
            data = buf.getvalue()
            anns = [Annotation.of(parse_record("pixmo-points", {
                "image_url": "", "image_sha256": sha256_hex(data), "count": 1 + j,
                "points": [{"x": 10.0 + 5 * i, "y": 20.0} for i in range(1 + j)], "label": f"thing {j}",
                "collection_method": "pointing"})) for j in range(annotations)]
            yield Sample(image=data, annotations=anns)

    write_samples(out, samples(), dataset=f"bench-{n}", max_count=100, durable=False)


def _parts():
    from model.config import get_config
    from model.data import DataConfig, MolmoFormat, load_tokenizer

    tok = load_tokenizer("tiny")
    cfg = DataConfig(seq_len=512, batch_size=4, pad_to_seq_len=False)
    return tok, get_config("tiny").preprocess_config(tok), cfg, MolmoFormat


def throughput(path: Path) -> list[dict]:
    """Rows: (implementation, samples/s per core, wall samples/s)."""
    import numpy as np
    import webdataset as wds

    from model.data import build_dataloader
    from pixmo.shards import iter_raw, shard_urls

    tok, pcfg, cfg, molmo_format = _parts()
    n = sum(1 for _ in iter_raw(path))
    rows = []

    def timed(name: str, fn, repeats: int = 3) -> None:
        """Best of ``repeats`` (the first run also warms caches: tokenizer, processor, imports)."""
        best: tuple[float, float] | None = None
        for _ in range(repeats):
            c0, w0 = time.process_time(), time.perf_counter()
            got = fn()
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            assert got == n, (name, got, n)
            best = (cpu, wall) if best is None or cpu < best[0] else best
        assert best is not None
        rows.append({"implementation": name, "samples": n, "per_core": n / best[0], "wall": n / best[1]})

    def ours() -> int:
        loader = build_dataloader(path, tok, pcfg, seq_len=512, batch_size=4, pad_to_seq_len=False)
        return sum(len(b["meta"]) for b in _with_meta(loader))

    def upstream() -> int:
        fmt = molmo_format(tok, pcfg, cfg)
        ds = wds.WebDataset(shard_urls(path), shardshuffle=False)
        seqs, count = [], 0
        for i, s in enumerate(ds):
            members = {k: v for k, v in s.items() if not k.startswith("__")}
            seqs += fmt.sequences(s["__key__"], members, None, np.random.default_rng([0, 0, 0, 0, i]))
            count += 1
            if len(seqs) >= 4:
                fmt.collate(seqs[:4])
                seqs = seqs[4:]
        return count

    timed("model.data loader (read+decode+preprocess+pack+collate)", ours)
    timed("webdataset WebDataset + same formatter and collator", upstream)
    timed("model.data read only (pixmo iter_raw)", lambda: sum(1 for _ in iter_raw(path)))
    timed("webdataset read only", lambda: sum(1 for _ in wds.WebDataset(shard_urls(path), shardshuffle=False)))
    return rows


def _with_meta(loader):
    loader.fmt.cfg.with_meta = True  # count samples: every sequence's examples come along
    return loader


def resume_times(path: Path) -> list[dict]:
    from model.data import build_dataloader
    from model.data.order import Cursor

    tok, pcfg, _, _ = _parts()
    rows = []
    for step in (10, 10_000):
        loader = build_dataloader(path, tok, pcfg, seq_len=512, batch_size=4, pad_to_seq_len=False, epochs=None,
                                  shuffle=True, packing=True)
        cursor = Cursor(loader.plan)
        for _ in range(step * 4):  # the state a run at this step saved (one sequence per image at seq_len 512)
            next(cursor)
        t0 = time.perf_counter()
        loader.set_state(cursor.snapshot())
        next(iter(loader))
        rows.append({"step": step, "resume_s": time.perf_counter() - t0})
    t0 = time.perf_counter()
    loader = build_dataloader(path, tok, pcfg, seq_len=512, batch_size=4, pad_to_seq_len=False, epochs=None)
    it = iter(loader)
    for _ in range(20):
        next(it)
    per_batch = (time.perf_counter() - t0) / 20
    for r in rows:
        r["replay_s_estimate"] = r["step"] * per_batch  # the old loader rebuilt every earlier batch
    return rows


def mixture_rss(small: str, big: str, draws: int) -> float:
    code = f"""
import sys; sys.path.insert(0, {str(ROOT)!r})
from benchmarks.bench_loader import _parts, peak_rss_mb
from model.data import build_dataloader
from pixmo.mixture import MixtureConfig, MixtureSource
tok, pcfg, _, _ = _parts()
mix = MixtureConfig([MixtureSource("fixed", {small!r}, rate=0.5), MixtureSource("growing", {big!r}, rate=0.5)])
loader = build_dataloader(mix, tok, pcfg, seq_len=512, batch_size=4, pad_to_seq_len=False, shuffle=True,
                          shuffle_in_shard=True, max_samples={draws})
n = sum(len(b["input_tokens"]) for b in loader)
print(peak_rss_mb())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise OSError("no VmHWM in /proc/self/status")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--small", type=int, default=500)
    ap.add_argument("--draws", type=int, default=2000)
    a = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        make_set(t / "set", a.samples, 0)
        thr = throughput(t / "set")
        res = resume_times(t / "set")
        make_set(t / "fixed", a.small, 1, size=64, annotations=1)
        mem = []
        for mult in (1, 10):
            make_set(t / f"grow{mult}", a.small * mult, 2, size=64, annotations=1)
            mb = sum(p.stat().st_size for p in (t / f"grow{mult}").glob("*.tar")) / 1e6
            mem.append({"source_samples": a.small * mult, "source_mb": mb,
                        "peak_rss_mb": mixture_rss(str(t / "fixed"), str(t / f"grow{mult}"), a.draws)})
    base = next(r for r in thr if r["implementation"].startswith("webdataset WebDataset"))["per_core"]
    print("| implementation | samples/s per core | wall samples/s | vs webdataset + same work |\n|---|---|---|---|")
    for r in thr:
        print(f"| {r['implementation']} | {r['per_core']:.1f} | {r['wall']:.1f} | {r['per_core'] / base:.2f}x |")
    print("\n| resume at step | time to first batch s | old loader (replay) estimate s |\n|---|---|---|")
    for r in res:
        print(f"| {r['step']:,} | {r['resume_s']:.3f} | {r['replay_s_estimate']:.0f} |")
    print("\n| growing source samples | source MB | loader peak RSS MB |\n|---|---|---|")
    for r in mem:
        print(f"| {r['source_samples']:,} | {r['source_mb']:.1f} | {r['peak_rss_mb']:.0f} |")
    print(json.dumps({"throughput": thr, "resume": res, "mixture_memory": mem}))


if __name__ == "__main__":
    main()
