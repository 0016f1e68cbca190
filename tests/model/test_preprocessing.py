"""docs/spec/molmo.md section 11 facts 1-8 and 10: tiling, token layout, crops, masks, image_input_idx."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.preprocessing import (
    MolmoImageProcessor,
    PreprocessConfig,
    load_image,
    normalize_crops,
    select_tiling,
)
from model.tiling import QWEN2_IM_COL, QWEN2_IM_END, QWEN2_IM_PATCH, QWEN2_IM_START, layout, token_counts

TILINGS = [
    ((1000, 700), (3, 4)), ((640, 480), (2, 3)), ((336, 336), (1, 1)), ((224, 224), (1, 1)),
    ((100, 100), (1, 1)), ((448, 448), (2, 2)), ((512, 512), (2, 2)), ((1024, 1024), (3, 3)),
    ((800, 600), (3, 4)), ((1024, 768), (3, 4)), ((1280, 720), (3, 4)), ((1920, 1080), (3, 4)),
    ((3000, 2000), (3, 4)), ((4000, 300), (1, 12)), ((300, 4000), (12, 1)), ((500, 2000), (6, 2)),
]


def image(w: int, h: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def proc() -> MolmoImageProcessor:
    return MolmoImageProcessor(max_crops=12)


@pytest.fixture(scope="module")
def out_1000x700(proc):
    return proc.preprocess(image(1000, 700))


@pytest.fixture(scope="module")
def out_640x480(proc):
    return proc.preprocess(image(640, 480))


@pytest.mark.parametrize(("wh", "tiling"), TILINGS)
def test_fact1_tiling(wh, tiling):
    w, h = wh
    assert select_tiling(h - 112, w - 112, 224, 12) == tiling


def test_fact1_tiling_other_max_crops():
    assert select_tiling(1080 - 112, 1920 - 112, 224, 36) == (4, 8)
    assert select_tiling(700 - 112, 1000 - 112, 224, 6) == (2, 3)
    assert MolmoImageProcessor(max_crops=6).tiling(700, 1000) == (2, 3)
    assert select_tiling(10 - 112, 10 - 112, 224, 12) == (1, 1)  # smaller than the margins


@pytest.mark.parametrize("tiling", [(1, 1), (2, 3), (3, 4), (1, 12), (12, 1), (4, 8), (6, 2)])
def test_fact2_token_counts(tiling):
    r, c = tiling
    n = token_counts(tiling)
    assert n["patch"] == 144 + (8 * r + 4) * (8 * c + 4)
    assert n["col"] == 12 + 8 * r + 4
    assert n["total"] == n["patch"] + n["col"] + 4
    toks = layout(PreprocessConfig(), tiling).image_tokens
    assert (toks == QWEN2_IM_START).sum() == 2 and (toks == QWEN2_IM_END).sum() == 2


def test_fact3_1000x700(out_1000x700):
    o = out_1000x700
    assert o["images"].shape == (13, 576, 588) and o["images"].dtype == np.float32
    toks = o["image_tokens"]
    assert len(toks) == 1196
    assert (toks == QWEN2_IM_PATCH).sum() == 1152 and (toks == QWEN2_IM_COL).sum() == 40
    idx = o["image_input_idx"]
    assert idx.shape == (13, 144)
    assert (idx >= 0).sum() == 1152 and set(np.unique(idx[idx < 0])) == {-100}
    # every <im_patch> token receives exactly one feature
    assert sorted(idx[idx >= 0].tolist()) == np.flatnonzero(toks == QWEN2_IM_PATCH).tolist()


def test_fact4_kept_tokens_3x4(out_1000x700):
    kept = (out_1000x700["image_input_idx"] >= 0).sum(1).tolist()
    assert kept[0] == 144
    grid = np.array(kept[1:]).reshape(3, 4)
    assert grid[[0, 0, -1, -1], [0, -1, 0, -1]].tolist() == [100] * 4
    assert sorted(grid[0, 1:3].tolist() + grid[2, 1:3].tolist() + grid[1, [0, 3]].tolist()) == [80] * 6
    assert grid[1, 1:3].tolist() == [64, 64]
    assert sum(kept[1:]) == 1008 == layout(PreprocessConfig(), (3, 4)).grid[0] * layout(PreprocessConfig(), (3, 4)).grid[1]
    assert layout(PreprocessConfig(), (3, 4)).grid == (28, 36)


def test_fact5_640x480(out_640x480):
    o = out_640x480
    assert o["images"].shape[0] == 7
    toks = o["image_tokens"]
    assert (toks == QWEN2_IM_PATCH).sum() == 704 and (toks == QWEN2_IM_COL).sum() == 32 and len(toks) == 740
    valid = o["image_input_idx"] >= 0
    assert valid.sum(1).tolist() == [144, 100, 80, 100, 100, 80, 100]
    top_mid = valid[2].reshape(12, 12)
    rows, cols = np.nonzero(top_mid)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (0, 9, 2, 9)
    bottom_left = valid[4].reshape(12, 12)
    rows, cols = np.nonzero(bottom_left)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (2, 11, 0, 9)


def test_fact6_single_tile_and_36_crops(proc):
    for wh in [(336, 336), (224, 224), (100, 100), (300, 250)]:
        o = proc.preprocess(image(*wh))
        toks = o["image_tokens"]
        assert o["images"].shape[0] == 2
        assert (toks == QWEN2_IM_PATCH).sum() == 288 and (toks == QWEN2_IM_COL).sum() == 24 and len(toks) == 316
    big = MolmoImageProcessor(max_crops=36)
    lay = big.layout(1080, 1920)
    assert lay.n_crops == 33 and len(lay.image_tokens) == 2644


def test_fact7_canvas_and_padding(out_1000x700, proc):
    cfg = proc.config
    from model.tiling import canvas_size, resized_size

    assert canvas_size(cfg, (3, 4)) == (784, 1008)
    h, w = resized_size(700, 1000, 784, 1008)
    assert (h, w) == (705, 1008) and (784 - h) // 2 == 39  # content rows 39..743
    assert resized_size(700, 1000, 336, 336) == (235, 336) and (336 - 235) // 2 == 50
    # padded pixels are (0 - mean) / std, not -1, in the reference (normalised) output
    glob = out_1000x700["images"][0].reshape(24, 24, 14, 14, 3).transpose(0, 2, 1, 3, 4).reshape(336, 336, 3)
    pad = (0 - np.array(cfg.mean, np.float32)) / np.array(cfg.std, np.float32)
    np.testing.assert_allclose(glob[:50], np.broadcast_to(pad, (50, 336, 3)), rtol=1e-6)
    np.testing.assert_allclose(glob[285:], np.broadcast_to(pad, (51, 336, 3)), rtol=1e-6)
    assert not np.allclose(glob[50], pad)


def test_fact8_input_idx_positions(out_1000x700, out_640x480):
    idx = out_1000x700["image_input_idx"] + 1  # the BOS shift
    assert idx[0, 0] == 2 and idx[0, 12] == 15
    toks = np.concatenate([[151643], out_1000x700["image_tokens"]])
    assert toks[1] == QWEN2_IM_START and toks[2] == QWEN2_IM_PATCH and toks[14] == QWEN2_IM_COL
    assert toks[159] == QWEN2_IM_START and toks[158] == QWEN2_IM_END
    first = out_640x480["image_input_idx"][1] + 1
    assert first[first > 0][0] == 160


def test_fact10_mask_shift(out_1000x700, out_640x480):
    m = out_640x480["image_masks"]
    assert m.shape == (7, 576)
    np.testing.assert_allclose(m.mean(1), [0.943, 1, 0.943, 0.943, 1, 0.943, -1], atol=5e-4)
    assert (m[-1] == -1).all()
    np.testing.assert_allclose(out_1000x700["image_masks"].mean(1), [0.884] * 4 + [1] * 4 + [0.881] * 4 + [-1],
                               atol=5e-4)


def test_mask_shift_switch_gives_fixed_masks():
    fixed = MolmoImageProcessor(mask_shift=False).preprocess(image(640, 480))["image_masks"]
    shifted = MolmoImageProcessor().preprocess(image(640, 480))["image_masks"]
    np.testing.assert_array_equal(fixed[1:], shifted[:-1])
    assert fixed[0].min() >= 0 and fixed[0].mean() < 1  # the global crop's own (letterboxed) mask


def test_masks_match_pixel_means():
    """Analytic per-patch fractions equal the mean of the boolean pixel mask, as in the reference."""
    cfg = PreprocessConfig()
    proc = MolmoImageProcessor(mask_shift=False)
    o = proc.preprocess(image(611, 390))
    assert proc.tiling(390, 611) == (2, 3)
    ch, cw = 560, 784
    from model.tiling import resized_size

    h, w = resized_size(390, 611, ch, cw)
    pix = np.zeros((ch, cw), bool)
    pix[(ch - h) // 2:(ch - h) // 2 + h, (cw - w) // 2:(cw - w) // 2 + w] = True
    for k, (i, j) in enumerate([(i, j) for i in range(2) for j in range(3)]):
        crop = pix[i * 224:i * 224 + 336, j * 224:j * 224 + 336]
        ref = crop.reshape(24, 14, 24, 14).transpose(0, 2, 1, 3).reshape(576, 196).astype(np.float32).mean(-1)
        np.testing.assert_array_equal(o["image_masks"][k + 1], ref)
    assert cfg.tokens_per_crop == 144


def test_crops_match_direct_resize():
    """Crop k is the canvas window at (224*i, 224*j), patchified in (dy, dx, c) order."""
    im = image(700, 500, seed=3)
    proc = MolmoImageProcessor()
    o = proc.preprocess(im)
    r, c = o["tiling"]
    ch, cw = 224 * r + 112, 224 * c + 112
    from model.tiling import resized_size

    h, w = resized_size(500, 700, ch, cw)
    x = torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255
    y = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True).clamp(0, 1)[0].permute(1, 2, 0).numpy()
    canvas = np.zeros((ch, cw, 3), np.float32)
    canvas[(ch - h) // 2:(ch - h) // 2 + h, (cw - w) // 2:(cw - w) // 2 + w] = y
    canvas = (canvas - np.array(proc.config.mean, np.float32)) / np.array(proc.config.std, np.float32)
    crop = canvas[224:560, 448:784]  # crop (1, 2)
    ref = crop.reshape(24, 14, 24, 14, 3).transpose(0, 2, 1, 3, 4).reshape(576, 588)
    np.testing.assert_allclose(o["images"][1 + 1 * c + 2], ref, atol=1e-5)


def test_fast_uint8_path_matches_reference():
    im = image(640, 480, seed=5)
    ref = MolmoImageProcessor().preprocess(im)
    fast = MolmoImageProcessor()(im)
    u8 = MolmoImageProcessor(uint8_resize=True)(im)
    assert fast["images"].dtype == torch.uint8 and fast["images"].shape == (7, 576, 588)
    # rounding to uint8 costs at most half a level: 0.5/255/std < 0.0076
    assert float((normalize_crops(fast["images"]) - torch.from_numpy(ref["images"])).abs().max()) < 0.0076
    assert int((u8["images"].int() - fast["images"].int()).abs().max()) <= 2
    for k in ("image_tokens", "image_input_idx", "image_masks"):
        np.testing.assert_array_equal(fast[k], ref[k])


def test_batch_groups_sizes():
    proc = MolmoImageProcessor()
    ims = [image(500, 350, 1), image(300, 200, 2), image(500, 350, 3)]
    for p in (proc, MolmoImageProcessor(uint8_resize=True)):
        outs = p.batch(ims)
        assert [o["tiling"] for o in outs] == [(2, 2), (1, 1), (2, 2)]
        for im, o in zip(ims, outs, strict=True):
            assert torch.equal(o["images"], p(im)["images"])


def test_tiny_geometry_and_custom_ids():
    cfg = PreprocessConfig.tiny(image_patch_id=7, image_col_id=8, image_start_id=5, image_end_id=6)
    proc = MolmoImageProcessor(config=cfg)
    o = proc.preprocess(image(150, 100))
    r, c = o["tiling"]
    assert o["images"].shape == (r * c + 1, 16, 588)
    toks = o["image_tokens"]
    assert (toks == 7).sum() == 4 + (2 * r) * (2 * c) and (toks == 8).sum() == 2 + 2 * r
    idx = o["image_input_idx"]
    assert sorted(idx[idx >= 0].tolist()) == np.flatnonzero(toks == 7).tolist()
    cfg112 = PreprocessConfig(crop_size=112, overlap_margins=(2, 2), max_crops=6)
    o = MolmoImageProcessor(config=cfg112).preprocess(image(300, 200))
    idx, toks = o["image_input_idx"], o["image_tokens"]
    assert o["images"].shape[1:] == (64, 588) and idx.shape[1] == 16
    assert sorted(idx[idx >= 0].tolist()) == np.flatnonzero(toks == cfg112.image_patch_id).tolist()


def test_bad_input_errors():
    proc = MolmoImageProcessor()
    with pytest.raises(ValueError, match="HxWx3"):
        proc.preprocess(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        proc.preprocess(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="overlap_margins"):
        PreprocessConfig(overlap_margins=(3, 4))


def test_load_image_exif_rotation(tmp_path):
    from PIL import Image

    arr = image(40, 20)
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "r.jpg"
    im.save(path, exif=exif)
    out = load_image(path.read_bytes())
    assert out.shape == (40, 20, 3) and out.dtype == np.uint8


def _bench_module():
    """benchmarks/bench_preprocess.py: the official MultiModalPreprocessor algorithm step by step
    (``official_preprocess``) and its pure-numpy variant (``np_preprocess``)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_preprocess.py"
    spec = importlib.util.spec_from_file_location("bench_preprocess", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _numpy_reference():
    """The per-image numpy transcription of the reference processor (benchmarks/bench_preprocess.py)."""
    return _bench_module().np_preprocess


@pytest.mark.parametrize("wh", [(640, 480), (300, 250), (800, 180), (220, 700)])
def test_matches_reference_bookkeeping(wh, proc):
    """The reference's crop-by-crop numbering + transpose + inversion gives our direct row-major map."""
    im = image(*wh, seed=wh[0])
    ref = _numpy_reference()(im)
    ours = proc.preprocess(im)
    for k in ("image_tokens", "image_input_idx", "image_masks"):
        np.testing.assert_array_equal(ours[k], ref[k])
    np.testing.assert_allclose(ours["images"], ref["images"], atol=2e-3)



def test_preprocess_is_bit_identical_to_the_official_algorithm_on_random_sizes(proc):
    """Our one-copy crop cut, channels-last resize and flattened in-place normalisation give exactly
    the official preprocessor's floats (torch-bilinear resize), on 24 random sizes from 1 px to
    2000 px a side, extreme aspect ratios included. (The official code fails on images so thin
    that the 336 px global crop would be 0 px high; those are left out.)"""
    official = _bench_module().official_preprocess
    rng = np.random.default_rng(23)
    sizes = [(1, 1), (6, 1999), (1999, 6), (335, 337), (336, 336), (224, 1568), (113, 113), (800, 3)]
    while len(sizes) < 24:
        h, w = int(rng.integers(1, 2000)), int(rng.integers(1, 2000))
        if min(h, w) * 336 >= max(h, w):
            sizes.append((h, w))
    for h, w in sizes:
        im = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        ref, ours = official(im), proc.preprocess(im)
        assert ours["images"].dtype == np.float32 and ours["images"].shape == ref["images"].shape, (h, w)
        assert np.array_equal(ours["images"], ref["images"]), f"{h}x{w}: pixels differ"
        for k in ("image_tokens", "image_input_idx", "image_masks"):
            np.testing.assert_array_equal(ours[k], ref[k], err_msg=f"{h}x{w}: {k}")
