"""Parity with Hugging Face transformers on tiny random configs (same weights loaded)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.testing import assert_close

from model.config import ConnectorConfig, LLMConfig, MolmoConfig, VisionConfig
from model.molmo import Molmo
from model.weights import hf_llm_to_ours, hf_vit_to_ours, load_hf_llm, load_hf_vit

transformers = pytest.importorskip("transformers")


def _molmo(llm: LLMConfig | None = None, vision: VisionConfig | None = None) -> Molmo:
    cfg = MolmoConfig(
        vision=vision or VisionConfig(image_size=56, width=32, n_layers=2, n_heads=2, mlp_dim=64, vit_layers=(-1, -2)),
        connector=ConnectorConfig(pool_heads=2), overlap_margins=(0, 0),
        llm=llm or LLMConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, mlp_hidden=48,
                             vocab_size=64, embedding_size=64),
    )
    torch.manual_seed(0)
    model = Molmo(cfg)
    model.init_weights(0)
    return model.eval()


def _qwen2(vocab: int = 96):
    torch.manual_seed(1)
    hf_cfg = transformers.Qwen2Config(
        vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=False, max_position_embeddings=256)
    hf = transformers.Qwen2ForCausalLM(hf_cfg).eval()
    with torch.no_grad():  # random biases, so a bias mix-up cannot pass
        for layer in hf.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.normal_(0, 0.1)
            layer.input_layernorm.weight.normal_(1, 0.1)
    llm = LLMConfig(d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, mlp_hidden=96, rope_theta=10000.0,
                    vocab_size=vocab, embedding_size=vocab, qkv_bias=True)
    return hf, llm


def test_decoder_matches_qwen2_logits_and_hidden_states():
    hf, llm = _qwen2()
    ours = _molmo(llm=llm)
    names = load_hf_llm(ours, hf)
    assert any("q_proj.bias" in n for n in names)
    ids = torch.randint(0, 96, (2, 17))
    with torch.no_grad():
        ref = hf(ids, output_hidden_states=True)
        logits = ours(ids).logits
        x = ours.transformer.wte(ids)
        hidden = ours.transformer(x, torch.arange(17).expand(2, 17), all_hidden=True)
    assert_close(logits, ref.logits, rtol=1e-5, atol=1e-5)
    assert len(hidden) == len(ref.hidden_states)
    for ours_h, ref_h in zip(hidden, ref.hidden_states, strict=True):
        assert_close(ours_h, ref_h, rtol=1e-5, atol=1e-5)


def test_decoder_matches_qwen2_with_left_padding():
    hf, llm = _qwen2()
    ours = _molmo(llm=llm)
    load_hf_llm(ours, hf)
    ids = torch.randint(0, 96, (2, 12))
    ids[0, :4] = -1  # left padding, our pad id
    attn = (ids >= 0).long()
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        ref = hf(ids.clamp(min=0), attention_mask=attn, position_ids=pos).logits
        logits = ours(ids).logits
    assert_close(logits[attn.bool()], ref[attn.bool()], rtol=1e-5, atol=1e-5)


def test_decoder_matches_olmo2_norm_after_and_qk_norm():
    torch.manual_seed(2)
    hf_cfg = transformers.Olmo2Config(
        vocab_size=80, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, rope_theta=500000.0, rms_norm_eps=1e-6, tie_word_embeddings=False)
    hf = transformers.Olmo2ForCausalLM(hf_cfg).eval()
    with torch.no_grad():
        for layer in hf.model.layers:
            layer.self_attn.q_norm.weight.normal_(1, 0.2)
            layer.post_feedforward_layernorm.weight.normal_(1, 0.2)
    llm = LLMConfig(d_model=64, n_layers=2, n_heads=4, n_kv_heads=4, mlp_hidden=96, rope_theta=500000.0,
                    vocab_size=80, embedding_size=80, qkv_bias=False, qk_norm=True, norm_after=True)
    ours = _molmo(llm=llm)
    load_hf_llm(ours, hf)
    ids = torch.randint(0, 80, (2, 9))
    with torch.no_grad():
        assert_close(ours(ids).logits, hf(ids).logits, rtol=1e-5, atol=1e-5)


def _patchify(pixels: torch.Tensor, ps: int) -> torch.Tensor:
    """(B, 3, H, W) -> (B, n_patches, ps*ps*3) in (dy, dx, c) order."""
    b, c, h, w = pixels.shape
    x = pixels.reshape(b, c, h // ps, ps, w // ps, ps).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // ps) * (w // ps), ps * ps * c)


def test_vit_matches_clip_vision_model_hidden_states():
    torch.manual_seed(3)
    hf_cfg = transformers.CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
        image_size=56, patch_size=14, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    hf = transformers.CLIPVisionModel(hf_cfg).eval()
    with torch.no_grad():
        tower = getattr(hf, "vision_model", hf)  # transformers 4 wraps the tower, 5 does not
        tower.embeddings.class_embedding.normal_()
        tower.pre_layrnorm.weight.normal_(1, 0.2)
    # our tower keeps only the first 2 of the 3 layers (as Molmo cuts CLIP-L 24 -> 23)
    vision = VisionConfig(image_size=56, width=32, n_layers=2, n_heads=2, mlp_dim=64, vit_layers=(-1, -2))
    ours = _molmo(vision=vision)
    load_hf_vit(ours, hf)
    pixels = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        ref = hf(pixel_values=pixels, output_hidden_states=True).hidden_states
        hidden = ours.vision_backbone.image_vit(_patchify(pixels, 14))
        feats = ours.vision_backbone.image_vit.features(_patchify(pixels, 14))
    assert len(hidden) == 2
    for i, h in enumerate(hidden):
        assert_close(h, ref[i + 1], rtol=1e-5, atol=1e-5)
    assert_close(feats, torch.cat([ref[2], ref[1]], -1)[:, 1:], rtol=1e-5, atol=1e-5)


def test_vit_matches_siglip_vision_model():
    torch.manual_seed(4)
    hf_cfg = transformers.SiglipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=42, patch_size=14, layer_norm_eps=1e-6)
    hf = transformers.SiglipVisionModel(hf_cfg).eval()
    vision = VisionConfig(image_size=42, width=32, n_layers=2, n_heads=2, mlp_dim=64,
                          act="gelu_tanh", ln_eps=1e-6, use_cls=False, pre_ln=False, patch_bias=True,
                          vit_layers=(-1,))
    ours = _molmo(vision=vision)
    sd = hf_vit_to_ours(hf.state_dict(), vision)
    assert "vision_backbone.image_vit.patch_embedding.bias" in sd
    load_hf_vit(ours, hf)
    pixels = torch.randn(2, 3, 42, 42)
    with torch.no_grad():
        ref = hf(pixel_values=pixels, output_hidden_states=True).hidden_states
        hidden = ours.vision_backbone.image_vit(_patchify(pixels, 14))
    for i, h in enumerate(hidden):
        assert_close(h, ref[i + 1], rtol=1e-5, atol=1e-5)


def test_hf_checkpoint_loads_from_a_local_directory(tmp_path):
    hf, llm = _qwen2()
    hf.save_pretrained(tmp_path / "qwen2")
    ours = _molmo(llm=dataclasses.replace(llm, embedding_size=100))  # padded table
    load_hf_llm(ours, tmp_path / "qwen2")
    sd = hf_llm_to_ours(hf.state_dict(), ours.cfg.llm)
    assert sd["transformer.wte.embedding"].shape == (100, 64)
    assert torch.equal(ours.transformer.wte.embedding[:96], hf.model.embed_tokens.weight)
    assert torch.equal(ours.transformer.wte.embedding[96:], torch.zeros(4, 64))
