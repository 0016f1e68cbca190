"""A tiny random transformers `Molmo2ForConditionalGeneration` and our `Molmo2` with the same weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from model.config import MolmoConfig, get_config
from model.molmo2.hf_config import config_to_hf
from model.molmo2.model import Molmo2
from model.molmo2.preprocessing import Molmo2ImageProcessor, Molmo2PreprocessConfig, expand_placeholders
from model.molmo2.weights import to_ours


def tiny_config(**llm: object) -> MolmoConfig:
    cfg = get_config("molmo2-tiny")
    if llm:
        cfg.llm = dataclasses.replace(cfg.llm, **llm)
    return cfg


@torch.no_grad()
def randomize(model: torch.nn.Module, seed: int) -> None:
    """Weights N(0, 0.1), biases N(0, 0.1), norm scales N(1, 0.1): a swapped tensor cannot pass."""
    gen = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        base = 1.0 if ("norm" in name or "layernorm" in name) and name.endswith("weight") else 0.0
        p.copy_(base + 0.1 * torch.randn(p.shape, generator=gen))


def hf_pair(cfg: MolmoConfig, seed: int = 0):
    import transformers

    hf_cfg = transformers.Molmo2Config(**config_to_hf(cfg))
    hf = transformers.Molmo2ForConditionalGeneration(hf_cfg).eval()
    randomize(hf, seed)
    ours = Molmo2(cfg).eval()
    ours.load_state_dict(to_ours(hf.state_dict(), cfg), strict=True)
    return hf, ours


def save_hf(hf, cfg: MolmoConfig, path, **kw) -> None:
    """`save_pretrained` plus the preprocessor_config.json a released checkpoint carries (crop geometry)."""
    import json
    from pathlib import Path

    hf.save_pretrained(str(path), **kw)
    pre = Molmo2PreprocessConfig.from_model(cfg).hf_dict()
    (Path(path) / "preprocessor_config.json").write_text(json.dumps(pre))


def random_image(rng: np.random.Generator, lo: int = 20, hi: int = 200) -> np.ndarray:
    h, w = (int(x) for x in rng.integers(lo, hi, size=2))
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def prompt(cfg: MolmoConfig, rng: np.random.Generator, n_images: int, n_text: int = 6) -> list[int]:
    """BOS-less random text with `n_images` placeholders spread through it."""
    text = [int(x) for x in rng.integers(1, cfg.llm.vocab_size, size=n_text)]
    for i in range(n_images):
        text.insert(1 + i * (n_text // max(n_images, 1)), cfg.image_tokens.image_placeholder)
    return text


def batch(cfg: MolmoConfig, rows: list[tuple[list[int], list[np.ndarray]]]) -> dict[str, torch.Tensor]:
    """Left-padded (-1) token rows with their images expanded, plus the processor outputs of all images."""
    proc = Molmo2ImageProcessor(Molmo2PreprocessConfig.from_model(cfg))
    images = [im for _, ims in rows for im in ims]
    pix = proc(images) if images else {}
    grids = pix["image_grids"].tolist() if images else []
    ids, k = [], 0
    for text, ims in rows:
        ids.append(expand_placeholders(text, grids[k:k + len(ims)], cfg.image_tokens))
        k += len(ims)
    t = max(len(r) for r in ids)
    tokens = torch.tensor([[-1] * (t - len(r)) + r for r in ids])
    return {"input_tokens": tokens, **pix}


def hf_inputs(cfg: MolmoConfig, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same batch as transformers takes it: ids (padding 0), attention_mask, positions, mm_token_type_ids."""
    tokens = b["input_tokens"]
    valid = tokens >= 0
    out = {k: v for k, v in b.items() if k != "input_tokens"}
    out["input_ids"] = tokens.clamp(min=0)
    out["attention_mask"] = valid.long()
    out["mm_token_type_ids"] = torch.isin(tokens, torch.tensor(cfg.image_tokens.block_ids())).long()
    return out
