"""model.aa_resize: torch's antialiased float resize reproduced bit for bit (compiled with numba)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model import aa_resize
from model.preprocessing import MolmoImageProcessor

pytest.importorskip("numba")


def torch_weights(n_in: int, n_out: int) -> np.ndarray:
    """torch's weights read back exactly: resizing one-hot rows gives each weight times 1."""
    x = torch.eye(n_in)[None, None]
    return F.interpolate(x, size=(n_in, n_out), mode="bilinear", antialias=True, align_corners=False)[0, 0].numpy()


def dense(n_in: int, n_out: int) -> np.ndarray:
    first, size, weights = aa_resize.taps(n_in, n_out)
    out = np.zeros((n_in, n_out), np.float32)
    for i in range(n_out):
        out[first[i]:first[i] + size[i], i] = weights[i, :size[i]]
    return out


def test_taps_equal_torchs_weights_on_random_sizes():
    rng = np.random.default_rng(7)
    pairs = [(1000, 1008), (700, 235), (1, 5), (5, 1), (2, 3), (37, 500), (9, 9), (1999, 6)]
    pairs += [(int(a), int(b)) for a, b in rng.integers(1, 1600, (150, 2))]
    for a, b in pairs:
        assert np.array_equal(dense(a, b), torch_weights(a, b)), (a, b)


def test_this_machine_is_calibrated():
    """The compiled path is in use here (the preprocessing benchmark relies on it)."""
    arith = aa_resize.calibrated()
    assert arith is not None, "no accumulation pattern reproduced torch's resize on this machine"


def random_cases(seed: int, n: int):
    rng = np.random.default_rng(seed)
    for k in range(n):
        H, W = (int(v) for v in rng.integers(2, 900, 2))
        h, w = (int(v) for v in rng.integers(2, 700, 2))
        h = H if k % 5 == 0 else h  # width only
        w = W if k % 7 == 0 else w  # height only
        yield rng.integers(0, 256, (H, W, 3), dtype=np.uint8), h, w


def test_resize_is_bit_identical_to_torch_up_down_and_one_axis():
    arith = aa_resize.calibrated()
    cases = list(random_cases(11, 40)) + [(np.full((30, 40, 3), 255, np.uint8), 30, 40)]
    for im, h, w in cases:
        out = np.empty((h, w, 3), np.float32)
        aa_resize.resize_into(im, out, (0, 0, h, w), arith, "normalize")
        assert np.array_equal(out, aa_resize.torch_resize(im, h, w)), (im.shape, h, w)


def test_finishes_and_padding_match_torch_ops():
    arith = aa_resize.calibrated()
    mean, std = np.array([0.48, 0.45, 0.40], np.float32), np.array([0.26, 0.26, 0.27], np.float32)
    for im, h, w in random_cases(12, 8):
        ref = torch.from_numpy(aa_resize.torch_resize(im, h, w))
        box = (3, 5, h, w)
        norm = np.empty((h + 7, w + 9, 3), np.float32)
        aa_resize.resize_into(im, norm, box, arith, "normalize", mean, std)
        want = (torch.zeros(h + 7, w + 9, 3) - torch.from_numpy(mean)) / torch.from_numpy(std)
        want[3:3 + h, 5:5 + w] = (ref - torch.from_numpy(mean)) / torch.from_numpy(std)
        assert np.array_equal(norm, want.numpy())
        rounded = np.empty((h + 7, w + 9, 3), np.uint8)
        aa_resize.resize_into(im, rounded, box, arith, "round")
        want_u8 = torch.zeros(h + 7, w + 9, 3, dtype=torch.uint8)
        want_u8[3:3 + h, 5:5 + w] = ref.mul(255.0).round().to(torch.uint8)
        assert np.array_equal(rounded, want_u8.numpy())


def test_fast_path_crops_are_the_same_with_and_without_the_compiled_resize():
    rng = np.random.default_rng(5)
    for h, w in [(480, 640), (97, 1303), (1200, 300)]:
        im = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        ours, theirs = MolmoImageProcessor()(im), MolmoImageProcessor(exact_resize=False)(im)
        assert ours["images"].dtype == torch.uint8
        assert torch.equal(ours["images"], theirs["images"]), (h, w)


def test_without_a_calibrated_pattern_torch_resizes_and_output_is_unchanged(monkeypatch):
    im = np.random.default_rng(3).integers(0, 256, (333, 517, 3), dtype=np.uint8)
    proc = MolmoImageProcessor()
    with_kernel = proc.preprocess(im)
    monkeypatch.setattr(aa_resize, "_CAL", [None])  # numba missing, or no pattern matched
    monkeypatch.setattr(aa_resize, "resize_into", lambda *a, **k: pytest.fail("compiled resize used"))
    assert np.array_equal(proc.preprocess(im)["images"], with_kernel["images"])


def test_no_pattern_matching_means_no_compiled_resize(monkeypatch):
    monkeypatch.setattr(aa_resize, "CANDIDATES", (16,))  # a pattern this torch does not use
    assert aa_resize._calibrate() is None


def test_threads_share_no_buffers():
    rng = np.random.default_rng(9)
    ims = [rng.integers(0, 256, (int(rng.integers(200, 900)), int(rng.integers(200, 900)), 3), dtype=np.uint8)
           for _ in range(6)]
    proc = MolmoImageProcessor()
    want = [proc.preprocess(im)["images"] for im in ims]
    got: dict[int, list[np.ndarray]] = {}

    def work(t: int) -> None:
        got[t] = [proc.preprocess(im)["images"] for im in ims]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for t in range(4):
        assert all(np.array_equal(a, b) for a, b in zip(got[t], want, strict=True))


def test_bad_arguments_are_refused():
    arith = aa_resize.calibrated()
    out = np.empty((4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="HxWx3"):
        aa_resize.resize_into(np.zeros((8, 8, 4), np.uint8), out, (0, 0, 4, 4), arith, "normalize")
    with pytest.raises(ValueError, match="finish"):
        aa_resize.resize_into(np.zeros((8, 8, 3), np.uint8), out, (0, 0, 4, 4), arith, "sharpen")
    with pytest.raises(ValueError, match="C-contiguous"):
        aa_resize.resize_into(np.zeros((8, 8, 3), np.uint8), np.empty((4, 8, 3), np.float32)[:, ::2], (0, 0, 4, 4),
                              arith, "normalize")


def test_a_strided_image_gives_the_same_result():
    arith = aa_resize.calibrated()
    im = np.random.default_rng(2).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    a, b = np.empty((40, 60, 3), np.float32), np.empty((40, 60, 3), np.float32)
    aa_resize.resize_into(im[:, ::2], a, (0, 0, 40, 60), arith, "normalize")
    aa_resize.resize_into(np.ascontiguousarray(im[:, ::2]), b, (0, 0, 40, 60), arith, "normalize")
    assert np.array_equal(a, b) and np.array_equal(a, aa_resize.torch_resize(np.ascontiguousarray(im[:, ::2]), 40, 60))


def test_without_numba_installed_torch_resizes_to_the_same_bytes():
    """A process where numba cannot be imported (the model extra not installed) falls back to
    torch's resize and gives the same crops."""
    import hashlib
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, hashlib; sys.modules['numba'] = None\n"
            "import numpy as np\n"
            "from model import aa_resize\n"
            "from model.preprocessing import MolmoImageProcessor\n"
            "im = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)\n"
            "assert aa_resize.calibrated() is None\n"
            "print(hashlib.sha256(MolmoImageProcessor().preprocess(im)['images'].tobytes()).hexdigest())\n")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr[-2000:]
    im = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    assert aa_resize.calibrated() is not None
    want = hashlib.sha256(MolmoImageProcessor().preprocess(im)["images"].tobytes()).hexdigest()
    assert out.stdout.strip() == want
