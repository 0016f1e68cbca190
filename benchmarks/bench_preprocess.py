"""Molmo v1 image preprocessing: ours against the official MultiModalPreprocessor algorithm, per thread.

The baseline is the official code's algorithm reproduced here step by step
(``olmo/data/model_preprocessor.py`` of github.com/allenai/molmo, "overlap-and-resize-c2" with
its default ``resize_method="torch-bilinear"``): torchvision's uint8->float conversion and
antialiased bilinear ``Resize`` (``F.interpolate`` on the permuted image), clip, numpy padding,
in-place CLIP normalisation, crops cut one by one and stacked, einops-style patch rearrangement,
the patch-ordering transpose and ``build_image_input_idx``. (torchvision itself is not needed:
its tensor ``Resize`` is this ``F.interpolate`` call.) ``np_preprocess`` is the same algorithm with
a pure-numpy resize (the tests use it for the bookkeeping).

Before timing, ours is checked to be bit-identical to the baseline (pixels, tokens,
``image_input_idx``, masks). Ours resizes with ``model/aa_resize.py`` (torch's float resize
reproduced bit for bit, compiled with numba) when it is calibrated on this machine; the row
"torch's resize" is the same preprocessor with ``exact_resize=False``, to show what each part buys. Images are 1000x700 (tiling 3x4, 13 crops). Rates are images per
CPU-second of the one thread doing the work (torch and BLAS on 1 thread), median of interleaved
rounds. Target: ``preprocess()`` (identical output) >= 3x the official algorithm per thread.

    .venv/bin/python benchmarks/bench_preprocess.py [--quick] [--rounds R]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one thread for BLAS too, like a DataLoader worker
os.environ.setdefault("OMP_NUM_THREADS", "1")

import functools  # noqa: E402
import statistics  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MEAN = np.array((0.48145466, 0.4578275, 0.40821073), np.float32)
STD = np.array((0.26862954, 0.26130258, 0.27577711), np.float32)
IM_START, IM_END, IM_PATCH, IM_COL = 152064, 152065, 152066, 152067
TARGET = 3.0  # ours (identical output) vs the official algorithm, per thread


# --- the numpy baseline ------------------------------------------------------------------

def np_select_tiling(h, w, patch, max_crops):
    tilings = sorted([(i, j) for i in range(1, max_crops + 1) for j in range(1, max_crops + 1) if i * j <= max_crops],
                     key=lambda x: (x[0] * x[1], x[0]))
    cand = np.array(tilings, np.int32)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.min((cand * patch).astype(np.float32) / np.array([h, w], np.float32), axis=-1)
    if np.all(scale < 1):
        return cand[np.argmax(scale)]
    return cand[np.argmin(np.where(scale < 1.0, 10e9, scale))]


def aa_weights(n_in, n_out):
    """Dense [n_out, n_in] antialiased bilinear (triangle) weights, align_corners=False."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    w = np.zeros((n_out, n_in), np.float32)
    for i in range(n_out):
        center = (i + 0.5) * scale
        lo, hi = max(int(center - support + 0.5), 0), min(int(center + support + 0.5), n_in)
        x = (np.arange(lo, hi) - center + 0.5) / support
        t = np.maximum(0.0, 1.0 - np.abs(x))
        w[i, lo:hi] = t / t.sum()
    return w


def np_resize_and_pad(image, out_h, out_w):
    h, w = image.shape[:2]
    s = min(np.float32(out_w) / np.float32(w), np.float32(out_h) / np.float32(h))
    nh, nw = int(np.float32(h) * s), int(np.float32(w) * s)
    x = image.astype(np.float32) / 255.0
    x = (aa_weights(h, nh) @ x.reshape(h, w * 3)).reshape(nh, w, 3)  # rows, then columns (BLAS)
    x = x.transpose(0, 2, 1).reshape(nh * 3, w) @ aa_weights(w, nw).T
    x = np.clip(x.reshape(nh, 3, nw).transpose(0, 2, 1), 0.0, 1.0)
    top, left = (out_h - nh) // 2, (out_w - nw) // 2
    pad = [[top, out_h - nh - top], [left, out_w - nw - left]]
    mask = np.pad(np.ones((nh, nw), bool), pad)
    return np.pad(x, pad + [[0, 0]]), mask


def official_resize_and_pad(image, out_h, out_w):
    """The official ``resize_and_pad`` with its default ``resize_method="torch-bilinear"``:
    torchvision's ``convert_image_dtype`` (uint8 / 255 in float32) and ``Resize(antialias=True)``
    (``F.interpolate`` bilinear, align_corners=False) on the permuted HxWx3 array, clip, then
    numpy padding."""
    h, w = image.shape[:2]
    s = min(np.float32(out_w) / np.float32(w), np.float32(out_h) / np.float32(h))
    nh, nw = int(np.float32(h) * s), int(np.float32(w) * s)
    x = torch.permute(torch.from_numpy(image), [2, 0, 1]).to(torch.float32) / 255.0
    x = F.interpolate(x[None], size=[nh, nw], mode="bilinear", align_corners=False, antialias=True)[0]
    x = torch.permute(torch.clip(x, 0.0, 1.0), [1, 2, 0]).numpy()
    top, left = (out_h - nh) // 2, (out_w - nw) // 2
    pad = [[top, out_h - nh - top], [left, out_w - nw - left]]
    mask = np.pad(np.ones_like(x[:, :, 0], dtype=bool), pad)
    return np.pad(x, pad + [[0, 0]], constant_values=0), mask


def official_preprocess(image, max_crops=12, resize=official_resize_and_pad):
    """``MultiModalPreprocessor.image_to_patches_and_tokens`` ("overlap-and-resize-c2") and
    ``build_image_input_idx``, step by step as the official code does them (``resize`` swaps in
    another resize, e.g. the numpy one)."""
    p, crop, tl, lm, rm = 14, 336, 12, 4, 4
    n_patch = crop // p
    window_p = n_patch - lm - rm
    window, margin = window_p * p, (lm + rm) * p
    tiling = np_select_tiling(image.shape[0] - margin, image.shape[1] - margin, window, max_crops)
    src, img_mask = resize(image, tiling[0] * window + margin, tiling[1] * window + margin)
    src -= MEAN  # the official _normalize, in place
    src /= STD
    patches, masks, orders, on = [], [], [], 0
    for i in range(tiling[0]):
        y0, cy0 = i * window, 0 if i == 0 else lm // 2
        ch = window_p + (lm if i == 0 else 0) + (rm if i == tiling[0] - 1 else 0)
        for j in range(tiling[1]):
            x0, cx0 = j * window, 0 if j == 0 else lm // 2
            cw = window_p + (lm if j == 0 else 0) + (rm if j == tiling[1] - 1 else 0)
            ph, pw = (ch + 1) // 2, (cw + 1) // 2
            order = np.full((tl, tl), -1, np.int64)
            order[cy0:cy0 + ph, cx0:cx0 + pw] = np.arange(on, on + ph * pw).reshape(ph, pw)
            orders.append(order)
            patches.append(src[y0:y0 + crop, x0:x0 + crop])
            masks.append(img_mask[y0:y0 + crop, x0:x0 + crop])
            on += ph * pw
    patches = np.stack(patches).reshape(-1, n_patch, p, n_patch, p, 3).transpose(0, 1, 3, 2, 4, 5)
    patches = patches.reshape(-1, n_patch * n_patch, p * p * 3)
    masks = np.stack(masks).reshape(-1, n_patch, p, n_patch, p).transpose(0, 1, 3, 2, 4)
    masks = masks.reshape(-1, n_patch * n_patch, p * p).astype(np.float32).mean(-1)
    order = np.stack(orders).reshape(-1)
    valid = order >= 0
    rh = np.stack(orders).reshape(tiling[0], tiling[1], tl, tl).transpose(0, 2, 1, 3).reshape(-1)
    order[valid] = rh[rh >= 0]
    H, W = tiling[0] * window_p + lm + rm, tiling[1] * window_p + lm + rm
    row = np.concatenate([np.full((W + 1) // 2, IM_PATCH), [IM_COL]])
    glob_row = np.concatenate([np.full(tl, IM_PATCH), [IM_COL]])
    tokens = np.concatenate([[IM_START], np.tile(glob_row, tl), [IM_END], [IM_START], np.tile(row, (H + 1) // 2),
                             [IM_END]])
    g, _ = resize(image, crop, crop)
    g -= MEAN
    g /= STD
    g = g.reshape(n_patch, p, n_patch, p, 3).transpose(0, 2, 1, 3, 4).reshape(1, -1, p * p * 3)
    patches = np.concatenate([g, patches])
    order = np.concatenate([np.arange(tl * tl), np.where(order >= 0, order + tl * tl, -1)])
    pos = np.flatnonzero(tokens == IM_PATCH)  # the reference's build_image_input_idx
    valid = order >= 0
    sorted_ixs = np.zeros(len(pos), np.int64)
    sorted_ixs[order[valid]] = np.arange(valid.sum())
    ex = np.full(order.shape, -1, np.int64)
    ex[valid] = sorted_ixs
    idx = np.where(valid, pos[ex * valid], -100)
    masks = np.pad(masks, [[0, 1], [0, 0]], constant_values=-1)
    return {"images": patches, "image_tokens": tokens, "image_input_idx": idx.reshape(-1, tl * tl),
            "image_masks": masks}


np_preprocess = functools.partial(official_preprocess, resize=np_resize_and_pad)  # pure numpy, BLAS resize


# --- timing ---

def rates(fns, rounds):
    """Median images per CPU-second of each (fn, images) pair. The rounds interleave the
    implementations so that load from other processes hits them alike; CPU time of this one
    thread (torch and BLAS run on 1 thread) is what "per thread" means and moves less than wall
    time on a shared machine."""
    for fn, ims in fns:
        fn(ims[:1])  # warm up (caches, allocator)
    per: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for k, (fn, ims) in enumerate(fns):
            t = time.thread_time()
            fn(ims)
            per[k].append(len(ims) / max(time.thread_time() - t, 1e-9))
    return [statistics.median(p) for p in per]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer images and rounds (< 1 minute)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 9; --quick 3)")
    a = ap.parse_args()
    from model.preprocessing import MolmoImageProcessor

    torch.set_num_threads(1)
    n, rounds = (4, 3) if a.quick else (8, a.rounds or 9)
    rounds = a.rounds or rounds
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (35, 50, 3), dtype=np.uint8)
    images = [np.ascontiguousarray(np.kron(np.roll(base, k, 0), np.ones((20, 20, 1), np.uint8)) + rng.integers(
        0, 8, (700, 1000, 3), dtype=np.uint8)) for k in range(n)]

    ref, fast, fast_u8 = MolmoImageProcessor(), MolmoImageProcessor(), MolmoImageProcessor(uint8_resize=True)
    torch_rs = MolmoImageProcessor(exact_resize=False)
    from model import aa_resize

    arith = aa_resize.calibrated()  # once per process (numba's compiled kernels, matched to this torch)
    assert np.array_equal(torch_rs.preprocess(images[0])["images"], ref.preprocess(images[0])["images"])
    a_, b_ = official_preprocess(images[0]), ref.preprocess(images[0])
    assert a_["images"].shape == b_["images"].shape == (13, 576, 588)
    for k in ("images", "image_tokens", "image_input_idx", "image_masks"):
        np.testing.assert_array_equal(a_[k], b_[k], err_msg=f"{k}: ours differs from the official algorithm")

    names_fns = [
        ("official MultiModalPreprocessor (baseline)", lambda ims: [official_preprocess(i) for i in ims], images),
        ("ours preprocess(), identical float32 output", lambda ims: [ref.preprocess(i) for i in ims], images),
        ("  the same with torch's resize (exact_resize=False)", lambda ims: [torch_rs.preprocess(i) for i in ims],
         images),
        ("ours fast path, uint8 crops, per image", lambda ims: [fast(i) for i in ims], images),
        ("ours fast path, uint8 resize, batch of 4",
         lambda ims: [fast_u8.batch(ims[i:i + 4]) for i in range(0, len(ims), 4)], images),
    ]
    load0 = os.getloadavg()
    measured = rates([(f, ims) for _, f, ims in names_fns], rounds)
    rows = [(name, r) for (name, _, _), r in zip(names_fns, measured, strict=True)]
    base_rate = rows[0][1]
    print(f"1000x700 images, tiling 3x4 (13 crops); 1 thread; median of {rounds} interleaved rounds of {n} images; "
          f"images per CPU-second; load average {load0[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    print(f"compiled resize: {arith or 'not available (torch resizes)'}")
    print(f"{'implementation':52s} {'images/s':>9s} {'ratio':>7s}")
    for name, r in rows:
        print(f"{name:52s} {r:9.1f} {r / base_rate:6.2f}x")
    fig = {name: {"images_per_cpu_s": round(r, 2), "ratio": round(r / base_rate, 2)} for name, r in rows}
    identical = rows[1][1] / base_rate
    print(json.dumps({"bench": "preprocess", "figures": fig, "ratio_identical_vs_official": round(identical, 2),
                      "target_ratio": TARGET, "met": identical >= TARGET, "compiled_resize": str(arith),
                      "load_start": load0[0],
                      "load_end": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
