"""Our Molmo2 against transformers' Molmo2ForConditionalGeneration: tiny random configs, shared weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from model.generate import generate
from model.molmo2.model import molmo2_attention_mask
from tests.model.molmo2_pair import batch, hf_inputs, hf_pair, prompt, random_image, tiny_config

pytest.importorskip("transformers")


def _logits_match(cfg, rows, seed=0):
    hf, ours = hf_pair(cfg, seed)
    b = batch(cfg, rows)
    valid = b["input_tokens"] >= 0
    with torch.no_grad():
        got = ours(**b).logits
        pos = (valid.long().cumsum(-1) - 1).clamp(min=0)
        ref = hf(**hf_inputs(cfg, b), position_ids=pos).logits
    assert got.shape == ref.shape
    assert_close(got[valid], ref[valid], rtol=1e-5, atol=1e-5)
    return hf, ours, b


def test_single_image_logits_match_transformers():
    rng = np.random.default_rng(0)
    cfg = tiny_config()
    _logits_match(cfg, [(prompt(cfg, rng, 1), [random_image(rng)])])


def test_multi_image_logits_match_transformers():
    rng = np.random.default_rng(1)
    cfg = tiny_config()
    _logits_match(cfg, [(prompt(cfg, rng, 3), [random_image(rng) for _ in range(3)])])


def test_padded_batch_logits_match_transformers():
    rng = np.random.default_rng(2)
    cfg = tiny_config()
    rows = [(prompt(cfg, rng, 1, 3), [random_image(rng)]),
            (prompt(cfg, rng, 2, 9), [random_image(rng), random_image(rng, 150, 300)]),
            (prompt(cfg, rng, 0, 5), [])]
    _logits_match(cfg, rows)


@pytest.mark.parametrize("llm", [
    dict(qk_norm_type="full", norm_after=True),  # OLMo-3
    dict(rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64},
         rope_scaling_layers=(1,)),
    dict(rope_scaling={"rope_type": "linear", "factor": 2.0}),
    dict(rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 32}, rope_scaling_layers=(0,)),
    dict(qkv_bias=True, n_kv_heads=4),
])
def test_decoder_variants_match_transformers(llm):
    rng = np.random.default_rng(3)
    cfg = tiny_config(**llm)
    _logits_match(cfg, [(prompt(cfg, rng, 1, 40), [random_image(rng)])])


def test_image_tokens_attend_bidirectionally():
    """Image tokens see later image tokens, text stays causal; a causal-only mask changes the logits."""
    rng = np.random.default_rng(4)
    cfg = tiny_config()
    hf, ours, b = _logits_match(cfg, [(prompt(cfg, rng, 1), [random_image(rng)])])
    mask = molmo2_attention_mask(b["input_tokens"], cfg.image_tokens.block_ids())[0, 0]
    image = torch.isin(b["input_tokens"][0], torch.tensor(cfg.image_tokens.block_ids()))
    first, last = image.nonzero()[0, 0], image.nonzero()[-1, 0]
    assert mask[first, last] and not mask[first - 1, first]
    t = b["input_tokens"].shape[1]
    causal = torch.ones(t, t, dtype=torch.bool).tril()[None, None]
    with torch.no_grad():
        diff = (ours(**b).logits - ours(**b, attn_mask=causal).logits).abs().max()
    assert diff > 1e-3


def test_greedy_generation_matches_transformers():
    rng = np.random.default_rng(5)
    cfg = tiny_config()
    rows = [(prompt(cfg, rng, 1, 3), [random_image(rng)]),
            (prompt(cfg, rng, 2, 7), [random_image(rng), random_image(rng)])]
    hf, ours = hf_pair(cfg, 5)
    b = batch(cfg, rows)
    ours_ids = generate(ours, b, max_new_tokens=8, eos_id=-100)
    inputs = hf_inputs(cfg, b)
    with torch.no_grad():
        out = hf.generate(**inputs, max_new_tokens=8, do_sample=False, eos_token_id=None, pad_token_id=0)
    ref = out[:, b["input_tokens"].shape[1]:].tolist()
    assert ours_ids == ref
