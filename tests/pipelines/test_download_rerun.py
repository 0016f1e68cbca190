"""`pixmo download` reruns: failed items are retried (and counted), the exit status says when too
little arrived, placeholder images of hashless subsets are reported, Retry-After is capped."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from pipelines.download import FAILURES
from pipelines.fake_image_server import Host, Route
from pixmo.cli import main
from pixmo.download import DownloadConfig, Item, download_items
from pixmo.shards import iter_samples, read_manifest, sha256_hex


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _points_rows(host: Host, n: int) -> tuple[list[dict], list[bytes]]:
    imgs = [_png(i) for i in range(n)]
    rows = [{"image_url": host.url(f"/{i}.png"), "image_sha256": sha256_hex(d), "points": [{"x": 1.0, "y": 2.0}],
             "count": 1, "label": f"t{i}", "collection_method": "pointing"} for i, d in enumerate(imgs)]
    return rows, imgs


def _cmd(src: Path, out: Path, *extra: str) -> list[str]:
    return ["download", "pixmo-points", "--parquet", str(src), "--out", str(out), "--retries", "0",
            "--timeout", "2", "--threads", "4", *extra]


def test_rerun_after_an_outage_retries_every_failed_item_and_says_how_many(tmp_path, capsys):
    with Host("127.0.0.1") as h:
        rows, imgs = _points_rows(h, 6)
        for i in range(6):
            h.add(f"/{i}.png", Route(status=503))  # the host is down
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / "p.parquet")
        out = tmp_path / "out"
        assert main(_cmd(tmp_path / "p.parquet", out)) == 1  # nothing arrived: an error, not a success
        assert "none of the 6 images arrived" in capsys.readouterr().out
        for i, d in enumerate(imgs):  # the host is back
            h.add(f"/{i}.png", Route(d, content_type="image/png"))
        assert main(_cmd(tmp_path / "p.parquet", out)) == 0
        assert "retried 6 images" in capsys.readouterr().out
        assert {s.key for s in iter_samples(out, verify=True)} == {sha256_hex(d) for d in imgs}
        hits = dict(h.hits)
        assert main(_cmd(tmp_path / "p.parquet", out)) == 0  # nothing failed: nothing is fetched again
        assert dict(h.hits) == hits and "retried" not in capsys.readouterr().out
        assert json.loads((out / FAILURES).read_text())["ok"] == 6


def test_failure_rate_above_the_limit_exits_non_zero(tmp_path, capsys):
    with Host("127.0.0.1") as h:
        rows, imgs = _points_rows(h, 10)
        for i, d in enumerate(imgs):
            h.add(f"/{i}.png", Route(d, content_type="image/png") if i < 4 else Route(status=404))
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / "p.parquet")
        assert main(_cmd(tmp_path / "p.parquet", tmp_path / "a")) == 1  # 60 % failed > 50 % default
        assert "60.0% of the images failed" in capsys.readouterr().out
        assert main(_cmd(tmp_path / "p.parquet", tmp_path / "b", "--max-failure-rate", "0.7")) == 0
        assert read_manifest(tmp_path / "b")["num_samples"] == 4


def test_identical_bytes_behind_many_urls_of_a_hashless_subset_are_placeholders(tmp_path):
    with Host("127.0.0.1") as h:
        placeholder = _png(99)
        rows = []
        for i in range(5):
            body = placeholder if i < 3 else _png(i)
            rows.append({"image_url": h.add(f"/{i}.png", Route(body, content_type="image/png")),
                         "caption": f"caption {i}", "transcripts": [f"t{i}"]})
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / "c.parquet")
        out = tmp_path / "cap"
        assert main(["download", "pixmo-cap", "--parquet", str(tmp_path / "c.parquet"), "--out", str(out),
                     "--max-failure-rate", "1"]) == 0
    samples = list(iter_samples(out))
    assert len(samples) == 2 and sha256_hex(placeholder) not in {s.key for s in samples}
    assert all(len(s.annotations) == 1 for s in samples)  # never unrelated captions in one sample
    report = json.loads((out / FAILURES).read_text())
    assert report["by_reason"] == {"placeholder": 3} and report["wrong"] == 3


def test_retry_after_is_honoured_but_capped() -> None:
    with Host("127.0.0.1") as h:
        url = h.add("/a.png", Route(_png(1), content_type="image/png", fail_first=1, retry_after="3600"))
        item = Item("k", [url], None, [0], [])
        cfg = DownloadConfig(threads=1, retries=1, timeout=2, max_retry_after=0.3)
        t0 = time.monotonic()
        [(_, out, data)] = list(download_items([item], cfg))
        took = time.monotonic() - t0
    assert out.ok and data == _png(1) and out.attempts == 2
    assert 0.2 <= took < 5, took  # waited (about 0.3 s with jitter), not an hour


def test_help_states_the_fsync_policy(capsys) -> None:
    assert main(["download", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "every shard is fsync'ed before it is renamed into place and marked done" in text
    assert "resume state is flushed, not fsync'ed" in text
