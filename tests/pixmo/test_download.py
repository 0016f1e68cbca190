"""`pixmo download` against local image hosts: 500 images, dead links, wrong bytes, slow hosts,
redirects, transient errors; a SIGKILLed run resumes."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines.download import FAILURES, import_subset
from pipelines.fake_image_server import Host, Route
from pixmo.download import DownloadConfig, HostGate, Item, download_items
from pixmo.shards import iter_samples, read_manifest, sha256_hex
from pixmo.shardset import staging_dir

ROOT = Path(__file__).resolve().parents[2]
N = 500


def _jpeg(rng: np.random.Generator) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


class World:
    """Four hosts (one slow, one a redirector) and the published rows pointing at them."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.hosts = [Host("127.0.0.1"), Host("127.0.0.2"), Host("127.0.0.3", delay=0.03), Host("127.0.0.4")]
        closed = Host("127.0.0.5")  # bound then closed: connection refused
        closed.stop()
        self.rows: list[dict] = []
        self.good: dict[str, str] = {}  # sha -> path on its real host
        self.bad: dict[str, str] = {}  # sha -> expected reason
        self.retried: set[str] = set()
        self.paths: dict[str, tuple[Host, str]] = {}
        images = [_jpeg(rng) for _ in range(N)]
        dead_kinds = ["404"] * 30 + ["410"] * 5 + ["500"] * 5 + ["timeout"] * 3 + ["refused"] * 3 + ["loop"] * 4
        n_dead = n_wrong = 0
        for i, img in enumerate(images):
            sha = sha256_hex(img)
            host = self.hosts[i % 3]
            path = f"/img/{i}.jpg"
            if i % 20 in (0, 1):
                kind = dead_kinds[n_dead]
                n_dead += 1
                url = self._dead(kind, host, path, closed)
                self.bad[sha] = {"timeout": "timeout", "refused": "connect_error", "loop": "too_many_redirects"
                                 }.get(kind, "http_error")
            elif i % 20 == 2:
                body = images[(i + 1) % N] if n_wrong % 5 else b"<html>moved</html>"
                n_wrong += 1
                url = host.add(path, Route(body))
                self.bad[sha] = "sha256_mismatch"
            else:
                url = host.add(path, Route(img, fail_first=1 if i % 25 == 3 else 0))
                if i % 25 == 3:
                    self.retried.add(path)
                if i % 10 == 5:  # reached through a redirect host
                    url = self.hosts[3].add(f"/r/{i}", Route(redirect=url))
                self.good[sha] = path
            self.paths[sha] = (host, path)
            self.rows.append(_row(url, sha, f"thing {i}"))
            if i % 10 == 7:  # a second annotation of the same image
                self.rows.append(_row(url, sha, f"other thing {i}"))
        bad_row = _row(self.rows[3]["image_url"], self.rows[3]["image_sha256"], "broken")
        bad_row["count"] = 5  # count disagrees with points: rejected before any download
        self.rows.append(bad_row)
        assert n_dead == 50 and n_wrong == 25

    def _dead(self, kind: str, host: Host, path: str, closed: Host) -> str:
        if kind == "refused":
            return closed.url(path)
        if kind == "loop":
            a, b = f"{path}.a", f"{path}.b"
            host.add(b, Route(redirect=host.url(a)))
            return host.add(a, Route(redirect=host.url(b)))
        if kind == "timeout":
            return host.add(path, Route(b"late", delay=2.0))
        return host.add(path, Route(status=int(kind)))

    def write_parquet(self, path: Path) -> Path:
        pq.write_table(pa.Table.from_pylist(self.rows), path)
        return path

    def hits(self, sha: str) -> int:
        host, path = self.paths[sha]
        return host.hits[path]

    def __enter__(self) -> World:
        for h in self.hosts:
            h.start()
        return self

    def __exit__(self, *_: object) -> None:
        for h in self.hosts:
            h.stop()


def _row(url: str, sha: str, label: str) -> dict:
    return {"image_url": url, "image_sha256": sha, "points": [{"x": 10.0, "y": 20.0}], "count": 1,
            "label": label, "collection_method": "pointing"}


FAST = DownloadConfig(threads=32, per_host=8, retries=1, backoff=0.05, timeout=1.0)


def _check_result(world: World, out: Path) -> dict:
    keys = [s.key for s in iter_samples(out, verify=True)]
    assert len(keys) == len(set(keys)), "an image landed twice"
    assert set(keys) == set(world.good), "the shards must hold exactly the good images"
    samples = {s.key: s for s in iter_samples(out)}
    expected_anns = Counter(r["image_sha256"] for r in world.rows[:-1])
    for k, s in samples.items():
        assert len(s.annotations) == expected_anns[k]
        assert sha256_hex(s.image) == k
    report = json.loads((out / FAILURES).read_text())
    got = {f["key"]: f["reason"] for f in report["failures"]}
    assert got == world.bad, "every bad image is reported once with its reason"
    assert report["dead"] == 50 and report["wrong"] == 25 and report["ok"] == len(world.good) == 425
    assert report["bad_records"] == 1 and report["rejected_rows"][0]["reason"] == "bad_record"
    for f in report["failures"]:
        assert f["urls"] and f["detail"]
        if f["reason"] == "http_error":
            assert f["status"] in (404, 410, 500)
    assert read_manifest(out)["num_samples"] == 425
    return report


@pytest.mark.xdist_group("download")
def test_download_500_images_every_good_once_every_bad_reported(tmp_path: Path) -> None:
    with World() as world:
        src = world.write_parquet(tmp_path / "points.parquet")
        summary = import_subset("pixmo-points", str(src), tmp_path / "out", dl=FAST, images_per_shard=250,
                                progress=False)
        assert summary["shards"] == 2
        _check_result(world, tmp_path / "out")
        extra = 0
        for sha, path in world.good.items():  # transient 503s were retried
            expected = 2 if path in world.retried else 1
            assert world.hits(sha) >= expected
            extra += world.hits(sha) - expected
        assert extra <= 10, "only a request that timed out on a busy machine may be repeated"
        # (per-host limits are checked in a clean setting below: here abandoned timeouts and
        # redirect targets add server-side requests that the client no longer counts)
        assert not (tmp_path / "out" / ".state").exists() or not any((tmp_path / "out" / ".state").iterdir())


@pytest.mark.xdist_group("download")
def test_killed_download_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with World(seed=1) as world:
        src = world.write_parquet(tmp_path / "points.parquet")
        cmd = [sys.executable, "-m", "pixmo.cli", "download", "pixmo-points", "--parquet", str(src),
               "--out", str(out), "--per-shard", "100", "--retries", "1", "--backoff", "0.05",
               "--timeout", "1"]
        slow = subprocess.Popen([*cmd, "--threads", "4", "--host-delay", "0.02"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        state1 = staging_dir(out) / ".state" / "shard-000001.tar" / "state.jsonl"
        deadline = time.monotonic() + 60
        while not (state1.exists() and len(state1.read_text().splitlines()) >= 20):
            assert slow.poll() is None, slow.stderr.read().decode()[-3000:] if slow.stderr else ""
            assert time.monotonic() < deadline, "the slow run made no progress"
            time.sleep(0.02)
        os.kill(slow.pid, signal.SIGKILL)
        slow.wait()
        first = staging_dir(out) / "shard-000000.tar"
        assert first.exists() and not out.exists(), "nothing is published before the run completes"
        before = first.read_bytes()
        first = out / "shard-000000.tar"  # where the rerun publishes it
        finished = {json.loads(x)["key"] for x in state1.read_text().splitlines() if x.strip().endswith("}")}
        at_kill = {k: world.hits(k) for k in world.good}
        fast = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert fast.returncode == 0, fast.stdout[-3000:] + fast.stderr[-3000:]
        assert "HTTP Request" not in fast.stderr, "no log line per request (httpx's INFO lines flooded stderr)"
        # its failed items were tried again (still dead), its good images kept: the same bytes
        assert first.read_bytes() == before, "a finished shard changed"
        _check_result(world, out)
        fetched_again = {k for k in world.good if at_kill[k] and world.hits(k) > at_kill[k]}
        assert not (fetched_again & finished), "what the killed run finished is not fetched again"
        assert len(fetched_again) <= 4, "only images in flight at the kill (4 threads) are fetched again"


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("PIXMO_SLOW"), reason="Ray takes long to start; `make test-all` runs this")
@pytest.mark.xdist_group("download")
def test_download_on_ray_gives_the_same_shards(tmp_path: Path) -> None:
    with Host("127.0.0.1") as h:
        rng = np.random.default_rng(3)
        rows, good = [], set()
        for i in range(40):
            img = _jpeg(rng)
            sha = sha256_hex(img)
            url = h.add(f"/{i}.jpg", Route(img if i % 8 else b"wrong bytes"))
            rows.append(_row(url, sha, f"t{i}"))
            if i % 8:
                good.add(sha)
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / "r.parquet")
        local = import_subset("pixmo-points", str(tmp_path / "r.parquet"), tmp_path / "local", dl=FAST,
                              images_per_shard=10, progress=False)
        ray_run = import_subset("pixmo-points", str(tmp_path / "r.parquet"), tmp_path / "ray", dl=FAST,
                                images_per_shard=10, workers=2, executor="ray", progress=False)
    assert local["ok"] == ray_run["ok"] == 35 and local["wrong"] == ray_run["wrong"] == 5
    assert {s.key for s in iter_samples(tmp_path / "ray", verify=True)} == good
    for i in range(4):  # shards are deterministic: byte-identical whichever executor made them
        name = f"shard-{i:06d}.tar"
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()


def test_host_gate_limits_concurrency_and_spacing() -> None:
    with Host("127.0.0.1", delay=0.05) as h:
        items = []
        for i in range(12):
            body = f"x{i}".encode()
            items.append(Item(str(i), [h.add(f"/{i}", Route(body, content_type="text/plain"))], None, [i], []))
        cfg = DownloadConfig(threads=12, per_host=3, host_delay=0.01, retries=0, timeout=2)
        results = list(download_items(items, cfg))
        assert [it.key for it, _, _ in results] == [str(i) for i in range(12)]  # input order kept
        assert all(o.reason == "not_an_image" for _, o, _ in results)  # text is no image
        assert h.peak <= 3
        span = max(h.starts) - min(h.starts)  # 12 starts spaced by >= 0.01 s at the client
        assert span >= 11 * 0.01 * 0.8


def test_host_gate_alone() -> None:
    gate = HostGate(per_host=2, delay=0.0)
    gate.acquire("a")
    gate.acquire("a")
    gate.acquire("b")  # other hosts are independent
    gate.release("a")
    gate.acquire("a")
    for h in ("a", "a", "b"):
        gate.release(h)


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    from pixmo.download import DownloadError

    with pytest.raises(DownloadError, match="unknown subset"):
        import_subset("pixmo-nope", str(tmp_path), tmp_path / "o")
    with pytest.raises(DownloadError, match="no such file"):
        import_subset("pixmo-points", str(tmp_path / "missing.parquet"), tmp_path / "o")
    with pytest.raises(DownloadError, match="nothing to download"):
        import_subset("pixmo-clocks", str(tmp_path), tmp_path / "o")


def test_plan_groups_rows_by_image_and_rejects_bad_rows() -> None:
    from pixmo.download import plan_items

    sha = "a" * 64
    rows = [_row("http://h1/x.jpg", sha, "cat"), _row("http://h2/x.jpg", sha, "dog"),
            {**_row("http://h1/y.jpg", "b" * 64, "cup"), "__index_level_0__": 7},
            {**_row("http://h1/z.jpg", "c" * 64, "bad"), "count": 3}]
    items, rejected = plan_items("pixmo-points", rows)
    assert [it.key for it in items] == [sha, "b" * 64]
    assert items[0].urls == ["http://h1/x.jpg", "http://h2/x.jpg"] and items[0].rows == [0, 1]
    assert [r["row"] for r in rejected] == [3] and "count" in rejected[0]["detail"]
    caps = [{"image_url": "http://h/a.jpg", "caption": "c", "transcripts": ["t"]},
            {"image_url": "http://h/a.jpg", "caption": "d", "transcripts": ["u"]}]
    items, rejected = plan_items("pixmo-cap", caps)  # no published hash: grouped by URL, not checked
    assert len(items) == 1 and items[0].sha256 is None and items[0].rows == [0, 1] and not rejected


def test_header_sniffing_agrees_with_pil(rng: np.random.Generator) -> None:
    from pixmo.download import sniff_image
    from pixmo.shards import image_info

    for mode, fmt, kw in (("RGB", "JPEG", {}), ("L", "JPEG", {"progressive": True}), ("CMYK", "JPEG", {}),
                          ("RGB", "PNG", {}), ("RGBA", "PNG", {}), ("RGB", "WEBP", {})):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (37, 53, 3), dtype=np.uint8)).convert(mode).save(buf, fmt, **kw)
        data = buf.getvalue()
        got = sniff_image(data)
        assert got is None or got == image_info(data)
        assert got is not None or fmt == "WEBP"  # WebP goes to PIL
    assert sniff_image(b"<html>not an image</html>") is None


def test_an_unexpected_error_in_a_worker_reaches_the_caller_and_stops_the_rest() -> None:
    """Workers take items from a shared list; an error that is not a download failure (a bug, a
    full disk) is raised by the loop in the caller, and the workers then take no new item."""
    rng = np.random.default_rng(3)
    with Host("127.0.0.1") as host:
        items = []
        for i in range(200):
            body = _jpeg(rng)
            items.append(Item(sha256_hex(body), [host.add(f"/{i}.jpg", Route(body, delay=0.01))], sha256_hex(body),
                              [i], []))
        seen = []

        def on_done(out) -> None:
            seen.append(out.key)
            if len(seen) == 5:
                raise OSError("disk full")

        cfg = DownloadConfig(threads=2, per_host=2, retries=0, timeout=5)
        with pytest.raises(OSError, match="disk full"):
            for _ in download_items(items, cfg, on_done=on_done):
                pass
        time.sleep(0.3)
        assert len(seen) < 50, "the workers stopped taking items"
