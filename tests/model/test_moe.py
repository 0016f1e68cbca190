"""The OLMoE mixture-of-experts decoder (MolmoE-1B) against transformers' OlmoeForCausalLM."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from model.config import LLMConfig, MolmoConfig, get_config
from model.moe import olmoe_to_ours
from model.molmo import Molmo, build_model
from tests.model.molmo2_pair import randomize

transformers = pytest.importorskip("transformers")


@pytest.mark.parametrize("norm_topk", [False, True])
def test_moe_decoder_matches_olmoe_logits(norm_topk):
    hf_cfg = transformers.OlmoeConfig(
        vocab_size=96, hidden_size=64, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, num_experts=6, num_experts_per_tok=2, norm_topk_prob=norm_topk,
        rms_norm_eps=1e-5, tie_word_embeddings=False)
    hf = transformers.OlmoeForCausalLM(hf_cfg).eval()
    randomize(hf, 0)
    llm = LLMConfig(d_model=64, n_layers=2, n_heads=4, n_kv_heads=4, mlp_hidden=32, rope_theta=10000.0,
                    qkv_bias=False, qk_norm=True, moe_experts=6, moe_top_k=2, moe_norm_topk=norm_topk,
                    vocab_size=96, embedding_size=96, rms_eps=1e-5)
    ours = Molmo(MolmoConfig(llm=llm)).eval()
    missing, unexpected = ours.load_state_dict(olmoe_to_ours(hf.state_dict(), llm), strict=False)
    assert not unexpected and all(k.startswith("vision_backbone.") or k.endswith("new_embedding") for k in missing)
    ids = torch.randint(0, 96, (2, 19), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_close(ours(ids).logits, hf(ids).logits, rtol=1e-5, atol=1e-5)


def test_molmoe_1b_preset_shapes_on_meta():
    model = build_model(get_config("molmoe-1b"), "meta")
    n = sum(p.numel() for p in model.transformer.blocks.parameters())
    assert model.transformer.blocks[0].mlp.gate_up_proj.shape == (64, 2048, 2048)
    assert 6.0e9 < n < 7.0e9  # OLMoE-1B-7B: about 6.9B parameters in total, 1.3B active
