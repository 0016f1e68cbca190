"""Mixture memory: peak RSS of streaming and of materialising a mixture as one source grows 10x.

    .venv/bin/python benchmarks/bench_mixture.py [--small 1000] [--draws 2000]

Builds two shard sets of small JPEGs (``--small`` and 10x ``--small`` samples) and, for each, runs in
a fresh process: one full epoch of the mixture stream (``pixmo.mixture._epochs``), and
``pipelines.mix.materialise`` of ``--draws`` slots. Each process reports its peak RSS
(``VmHWM``). For contrast it also measures reading the whole source into a list, which is what
the stream did before it had a shuffle buffer. Prints a markdown table and a JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_set(out: Path, n: int, seed: int) -> None:
    import numpy as np
    from PIL import Image

    from pixmo.records import parse_record
    from pixmo.shards import Annotation, Sample, sha256_hex, write_samples

    rng = np.random.default_rng(seed)

    def samples():
        for _ in range(n):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90)
            data = buf.getvalue()
            rec = parse_record("pixmo-points", {"image_url": "", "image_sha256": sha256_hex(data), "count": 1,
                                                "points": [{"x": 10.0, "y": 20.0}], "label": "dot",
                                                "collection_method": "pointing"})
            yield Sample(image=data, annotations=[Annotation.of(rec)])

    write_samples(out, samples(), dataset=f"bench-{n}", max_count=1000, durable=False)


def measure(kind: str, path: str, draws: int, tmp: str) -> dict:
    from pixmo.mixture import MixtureConfig, MixtureSource, _epochs
    from pixmo.shards import iter_samples, read_manifest

    n = read_manifest(path)["num_samples"]
    if kind == "stream":
        it = _epochs(MixtureSource("s", path), seed=0)
        for _ in range(n):
            next(it)
    elif kind == "materialise":
        from pipelines.mix import materialise

        materialise(MixtureConfig([MixtureSource("s", path)]), Path(tmp) / "out", draws, progress=False)
    elif kind == "load_all":
        samples = list(iter_samples(path, validate=False))
        assert len(samples) == n
    return {"kind": kind, "samples": n, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM (reset by exec, unlike ru_maxrss, which a child inherits)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--measure", nargs=3, metavar=("KIND", "PATH", "TMP"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.measure:
        print(json.dumps(measure(a.measure[0], a.measure[1], a.draws, a.measure[2])))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (a.small, 10 * a.small):
            src = Path(tmp) / f"src{n}"
            make_set(src, n, n)
            mb = sum(p.stat().st_size for p in src.glob("*.tar")) / 2**20
            for kind in ("stream", "materialise", "load_all"):
                work = tempfile.mkdtemp(dir=tmp)
                out = subprocess.run([sys.executable, __file__, "--draws", str(a.draws), "--measure", kind, str(src),
                                      work], cwd=ROOT, capture_output=True, text=True, check=True)
                rows.append({**json.loads(out.stdout.strip().splitlines()[-1]), "source_mb": round(mb, 1)})
    print("| source samples | source MB | stream epoch peak RSS MB | materialise peak RSS MB | load-all peak RSS MB |")
    print("|---|---|---|---|---|")
    for n in (a.small, 10 * a.small):
        r = {x["kind"]: x for x in rows if x["samples"] == n}
        print(f"| {n:,} | {r['stream']['source_mb']} | {r['stream']['peak_rss_mb']:.0f} | "
              f"{r['materialise']['peak_rss_mb']:.0f} | {r['load_all']['peak_rss_mb']:.0f} |")
    print(json.dumps({"bench": "mixture", "draws": a.draws, "rows": rows}))


if __name__ == "__main__":
    main()
