"""Independent check of a `pixmo gen docs` output: every stored answer's evidence must be among the
text the renderer drew at >= 8 px (`meta.drawn_text`), titles distinct, and (with --twin) the run's
shards byte-identical to a second run of the same command.

    .venv/bin/python benchmarks/check_docs_run.py OUT [--twin OUT2]

Prints one JSON line of counts; exits 1 if any answer fails or the twin differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

from pixmo.shards import iter_samples


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def check_answers(out: Path) -> dict:
    docs = answers = pieces = 0
    failures: list[tuple[str, str, str]] = []
    titles: Counter[str] = Counter()
    renderers: Counter[str] = Counter()
    for sample in iter_samples(out, verify=True):
        for ann in sample.annotations:
            docs += 1
            renderers[ann.meta["renderer"]] += 1
            titles[_norm(str(ann.meta.get("title") or ann.meta.get("topic") or ""))] += 1
            blob = " ".join(_norm(t) for t, px in ann.meta["drawn_text"] if px >= 8)
            for ev in ann.meta["evidence"]:
                answers += 1
                for piece in ev:
                    pieces += 1
                    p = _norm(piece)
                    if not re.search(rf"(?<![0-9a-z.]){re.escape(p)}(?![0-9a-z])", blob):
                        failures.append((ann.meta["renderer"], ann.meta["figure_type"], piece))
    return {"documents": docs, "answers": answers, "evidence_pieces": pieces,
            "answers_failing_image_check": len(failures), "failures": failures[:10],
            "distinct_titles": len(titles), "renderers": dict(renderers)}


def shard_hashes(out: Path) -> dict[str, str]:
    """The data files: shards, manifest and dataset card (a shard's ``.stats.json`` holds its timings)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())
            if p.suffix == ".tar" or p.name in ("manifest.json", "README.md")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--twin", type=Path, help="a second run of the same command to compare byte for byte")
    args = ap.parse_args()
    rep = check_answers(args.out)
    bad = rep["answers_failing_image_check"] > 0
    if args.twin:
        a, b = shard_hashes(args.out), shard_hashes(args.twin)
        differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        rep["twin_files"] = len(a)
        rep["twin_differ"] = differ
        bad = bad or bool(differ)
    print(json.dumps(rep))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
