"""Our Molmo2 preprocessing against transformers' Molmo2ImageProcessor / Molmo2Processor code.

torchvision is not installable here (its only wheel for this torch is a CUDA build), and transformers'
`Molmo2ImageProcessor` cannot be instantiated without it. The test therefore runs transformers' own
Molmo2 methods (`_image_batch_to_patches_and_grids`, `_build_overlapping_crops`, the fused
`rescale_and_normalize`, `select_tiling`, `arange_for_pooling`, `batch_pixels_to_patches`,
`Molmo2Processor.replace_image_token`) on a stand-in backend whose only two torchvision calls are
replaced: `resize` (torchvision's tensor bilinear resize with antialias=False is
`torch.nn.functional.interpolate(mode="bilinear", align_corners=False)`) and `normalize`
(`(x - mean) / std` per channel).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.config import get_config
from model.molmo2.preprocessing import (
    Molmo2ImageProcessor,
    Molmo2PreprocessConfig,
    crop_geometry,
    expand_placeholders,
    image_token_ids,
)

pytest.importorskip("transformers")
# the submodules themselves (the package's lazy attributes refuse without torchvision)
hf_ip = importlib.import_module("transformers.models.molmo2.image_processing_molmo2")
TorchvisionBackend = importlib.import_module("transformers.image_processing_backends").TorchvisionBackend
Molmo2Processor = importlib.import_module("transformers.models.molmo2.processing_molmo2").Molmo2Processor


class _TorchOnlyBackend:
    """transformers' Molmo2 image-processor methods, with torchvision's resize/normalize done in torch."""

    _fuse_mean_std_and_rescale_factor = TorchvisionBackend._fuse_mean_std_and_rescale_factor
    rescale_and_normalize = TorchvisionBackend.rescale_and_normalize
    _build_overlapping_crops = hf_ip.Molmo2ImageProcessor._build_overlapping_crops
    _image_batch_to_patches_and_grids = hf_ip.Molmo2ImageProcessor._image_batch_to_patches_and_grids

    def resize(self, image, size, resample=None, antialias=True, **_):
        return F.interpolate(image, size=(size.height, size.width), mode="bilinear", align_corners=False,
                             antialias=antialias)

    def normalize(self, image, mean, std, inplace=False, **_):
        return (image - mean.view(-1, 1, 1)) / std.view(-1, 1, 1)


def _reference(images: list[np.ndarray], c: Molmo2PreprocessConfig):
    backend = _TorchOnlyBackend()
    out = []
    for im in images:
        x = torch.from_numpy(im).permute(2, 0, 1)[None]
        grid, patches, pooling = backend._image_batch_to_patches_and_grids(
            x, max_crops=c.max_crops, overlap_margins=list(c.overlap_margins), crop_size=c.crop_size,
            resample=hf_ip.PILImageResampling.BILINEAR, do_rescale=True, rescale_factor=1 / 255,
            do_normalize=True, image_mean=tuple(c.mean), image_std=tuple(c.std), image_patch_size=c.patch_size,
            image_pooling_w=c.pooling[1], image_pooling_h=c.pooling[0])
        out.append((grid[0], patches[0], pooling[0]))
    return out


def _random_images(seed: int, n: int, lo: int, hi: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(int(rng.integers(lo, hi)), int(rng.integers(lo, hi)), 3), dtype=np.uint8)
            for _ in range(n)]


@pytest.mark.parametrize("cfg", [Molmo2PreprocessConfig(), Molmo2PreprocessConfig.from_model(get_config("molmo2-tiny"))],
                         ids=["molmo2-378px", "molmo2-tiny"])
def test_pixels_pooling_and_grids_equal_transformers_on_random_sizes(cfg):
    hi = 1400 if cfg.crop_size == 378 else 300
    images = _random_images(0, 5, 10, hi)
    images.append(images[1].copy())  # a repeated shape: processed in one batch with the other
    ours = Molmo2ImageProcessor(cfg)(images)
    ref = _reference(images, cfg)
    assert ours["image_grids"].tolist() == [r[0].tolist() for r in ref]
    assert ours["image_num_crops"].tolist() == [r[1].shape[0] for r in ref]
    assert torch.equal(ours["pixel_values"], torch.cat([r[1] for r in ref]))
    assert torch.equal(ours["image_token_pooling"], torch.cat([r[2] for r in ref]).long())


def test_tiling_and_grid_follow_transformers_select_tiling():
    c = Molmo2PreprocessConfig()
    proc = Molmo2ImageProcessor(c)
    rng = np.random.default_rng(1)
    for h, w in rng.integers(1, 3000, size=(200, 2)).tolist():
        th, tw, ch, cw = crop_geometry(h, w, c)
        assert (th, tw, ch, cw) == hf_ip.compute_crop_geometry(h, w, c.max_crops, list(c.overlap_margins),
                                                                 c.crop_size, c.patch_size)
        grid, n_crops = proc.grid(h, w)
        assert n_crops == th * tw + 1 and grid[2] == -(-(ch // 14) // 2) and grid[3] == -(-(cw // 14) // 2)


class _ProcessorTokens:
    image_use_col_tokens, use_single_crop_col_tokens, use_single_crop_start_token = True, None, True
    replace_image_token = Molmo2Processor.replace_image_token


def test_image_token_layout_equals_molmo2_processor():
    """The token string transformers' processor puts in place of `<|image|>`, as ids of the preset."""
    cfg = get_config("molmo2-tiny")
    ids = cfg.image_tokens
    names = {"<im_patch>": ids.image_patch, "<im_col>": ids.image_col, "<im_start>": ids.image_start,
             "<low_res_im_start>": ids.low_res_image_start, "<im_end>": ids.image_end}
    proc = Molmo2ImageProcessor(Molmo2PreprocessConfig.from_model(cfg))
    images = _random_images(2, 3, 20, 300)
    grids = proc(images)["image_grids"]
    for g in grids:
        text = _ProcessorTokens().replace_image_token({"image_grids": grids[None, 0] * 0 + g[None]}, 0)
        ref = [names[t + ">"] for t in text.split(">")[:-1]]
        assert image_token_ids(g.tolist(), ids) == ref
        assert ref.count(ids.image_patch) == g[0] * g[1] + g[2] * g[3]
    prompt = [5, ids.image_placeholder, 6, ids.image_placeholder]
    out = expand_placeholders(prompt, grids[:2].tolist(), ids)
    assert out.count(ids.image_patch) == int((grids[:2, 0] * grids[:2, 1] + grids[:2, 2] * grids[:2, 3]).sum())
    with pytest.raises(ValueError):
        expand_placeholders([5], grids[:1].tolist(), ids)
