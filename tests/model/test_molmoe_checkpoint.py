"""A MolmoE-1B checkpoint directory in the released layout (docs/spec/molmo.md 9.4) loads into our Molmo.

The tiny checkpoint is written as allenai/MolmoE-1B-0924 ships: config.json with the remote code's flat
fields, safetensors shards with `model.safetensors.index.json`, keys `model.transformer.blocks.N.attn.*`,
`mlp.gate`, one `mlp.experts.E.{gate,up,down}_proj` per expert, `mlp.ff_norm` and a top-level `lm_head`.
Its decoder weights come from a random transformers `OlmoeForCausalLM`, the reference for the logits.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch.testing import assert_close

from model.moe import molmoe_config
from model.molmo import build_model
from model.weights import load_official, ours_to_official
from tests.model.molmo2_pair import randomize

transformers = pytest.importorskip("transformers")

D, LAYERS, HEADS, EXPERTS, TOP_K, FFN = 64, 2, 4, 6, 2, 32
VOCAB, EMBEDDING, NEW = 120, 128, 128


def molmoe_config_json(**changes) -> dict:
    """The released config.json's fields (huggingface.co/allenai/MolmoE-1B-0924/blob/main/config.json), tiny."""
    cfg = {
        "auto_map": {"AutoConfig": "config_molmoe.MolmoConfig",
                     "AutoModelForCausalLM": "modeling_molmoe.MolmoForCausalLM"},
        "architectures": ["OLMoForCausalLM"], "model_type": "molmo", "activation_type": "swiglu",
        "additional_vocab_size": NEW, "alibi": False, "attention_layer_norm": True,
        "attention_layer_norm_with_affine": True, "attention_type": "sdpa", "bias_for_layer_norm": False,
        "block_group_size": 1, "block_type": "moe", "clip_qkv": None, "crop_mode": "overlap-and-resize-c2",
        "d_model": D, "embedding_size": EMBEDDING, "float32_attention": True, "head_dim": None,
        "image_padding_embed": "pad_and_partial_pad", "image_pooling_2d": "attention-meanq", "image_pooling_h": 2,
        "image_pooling_w": 2, "image_projector": "mlp", "include_bias": False, "layer_norm_eps": 1e-05,
        "layer_norm_type": "rms", "layer_norm_with_affine": True, "max_crops": 12, "max_position_embeddings": 32768,
        "max_sequence_length": 4096, "message_formatting": "role", "mlp_hidden_size": None,
        "mlp_ratio": 2 * FFN // D, "moe_dropless": True, "moe_loss_weight": 0.0, "moe_mlp_impl": "sparse",
        "moe_num_experts": EXPERTS, "moe_shared_expert": False, "moe_top_k": TOP_K, "moe_zloss_weight": 0.0,
        "n_heads": HEADS, "n_kv_heads": None, "n_layers": LAYERS, "norm_after": False, "overlap_margins": [0, 0],
        "pad_token_id": 1, "prompt_type": "uber_model", "qkv_bias": False, "rope": True, "rope_full_precision": True,
        "rope_impl": "llama", "rope_theta": 10000.0, "transformers_version": "4.45.0.dev0", "use_cls_feature": False,
        "normalize_input_embeds": False, "vit_layers": [-2, -3], "vocab_size": VOCAB, "weight_tying": False,
        "vision_backbone": {
            "image_default_input_size": [56, 56], "image_emb_dim": 32, "image_head_dim": 16,
            "image_mlp_activations": "quick_gelu", "image_mlp_dim": 64, "image_model_type": "openai",
            "image_norm_eps": 1e-05, "image_num_heads": 2, "image_num_key_value_heads": 2, "image_num_layers": 3,
            "image_num_pos": 17, "image_patch_size": 14, "image_pos_patch_size": 14},
    }
    return cfg | changes


def olmoe_reference():
    hf_cfg = transformers.OlmoeConfig(
        vocab_size=EMBEDDING, hidden_size=D, intermediate_size=FFN, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, num_key_value_heads=HEADS, num_experts=EXPERTS, num_experts_per_tok=TOP_K,
        norm_topk_prob=False, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)
    hf = transformers.OlmoeForCausalLM(hf_cfg).eval()
    with torch.no_grad():
        randomize(hf, 3)
    return hf


def released_state_dict(olmoe: dict[str, torch.Tensor], vision: dict[str, torch.Tensor]) -> dict:
    """OLMoE weights renamed into MolmoE's released keys (written here independently of model/moe.py)."""
    out = dict(vision)
    for i in range(LAYERS):
        p, b = f"model.layers.{i}.", f"model.transformer.blocks.{i}."
        out[b + "attn.att_proj.weight"] = torch.cat([olmoe[p + f"self_attn.{x}_proj.weight"] for x in "qkv"])
        out[b + "attn.attn_out.weight"] = olmoe[p + "self_attn.o_proj.weight"]
        out[b + "attn.attn_norm.weight"] = olmoe[p + "input_layernorm.weight"]
        out[b + "attn.q_norm.weight"] = olmoe[p + "self_attn.q_norm.weight"]
        out[b + "attn.k_norm.weight"] = olmoe[p + "self_attn.k_norm.weight"]
        out[b + "mlp.ff_norm.weight"] = olmoe[p + "post_attention_layernorm.weight"]
        out[b + "mlp.gate.weight"] = olmoe[p + "mlp.gate.weight"]
        gate_up, down = olmoe[p + "mlp.experts.gate_up_proj"], olmoe[p + "mlp.experts.down_proj"]
        for e in range(EXPERTS):
            out[b + f"mlp.experts.{e}.gate_proj.weight"] = gate_up[e, :FFN]
            out[b + f"mlp.experts.{e}.up_proj.weight"] = gate_up[e, FFN:]
            out[b + f"mlp.experts.{e}.down_proj.weight"] = down[e]
    out["model.transformer.wte.embedding"] = olmoe["model.embed_tokens.weight"]
    out["model.transformer.wte.new_embedding"] = torch.randn(NEW, D, generator=torch.Generator().manual_seed(1))
    out["model.transformer.ln_f.weight"] = olmoe["model.norm.weight"]
    out["lm_head.weight"] = olmoe["lm_head.weight"]
    return {k: v.detach().clone().contiguous() for k, v in out.items()}


def write_checkpoint(out, config: dict, sd: dict[str, torch.Tensor], n_shards: int = 3) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True)
    keys = sorted(sd)
    weight_map = {}
    for i in range(n_shards):
        name = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        part = {k: sd[k] for k in keys[i::n_shards]}
        save_file(part, str(out / name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, name))
    total = sum(v.numel() * v.element_size() for v in sd.values())
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total},
                                                                   "weight_map": weight_map}))
    (out / "config.json").write_text(json.dumps(config))


@pytest.fixture
def checkpoint(tmp_path):
    config = molmoe_config_json()
    source = build_model(molmoe_config(config), seed=5)  # random vision tower and connector
    vision = ours_to_official({k: v for k, v in source.state_dict().items() if k.startswith("vision_backbone.")},
                              source.cfg)
    hf = olmoe_reference()
    sd = released_state_dict(hf.state_dict(), vision)
    write_checkpoint(tmp_path / "molmoe", config, sd)
    return tmp_path / "molmoe", hf, source, sd


def test_molmoe_dir_loads_and_decoder_matches_olmoe_logits(checkpoint):
    path, hf, source, sd = checkpoint
    ours = load_official(path).eval()  # strict: every released key maps, no parameter is left out
    assert ours.cfg.llm.moe_experts == EXPERTS and ours.cfg.llm.mlp_hidden == FFN
    assert ours.cfg.llm.embedding_size == EMBEDDING and ours.cfg.vision.n_layers == 3
    assert ours.transformer.blocks[1].mlp.gate_up_proj.shape == (EXPERTS, 2 * FFN, D)
    assert torch.equal(ours.transformer.wte.new_embedding, sd["model.transformer.wte.new_embedding"])
    ids = torch.randint(0, VOCAB, (2, 23), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_close(ours(ids).logits, hf(ids).logits, rtol=1e-5, atol=1e-5)
    vision = {k: v for k, v in source.state_dict().items() if k.startswith("vision_backbone.")}
    own = ours.state_dict()
    assert vision and all(torch.equal(own[k], v) for k, v in vision.items())


def test_train_config_takes_the_model_from_a_molmoe_dir(checkpoint):
    from model.train import Dist, TrainConfig, build_training

    path, hf, _, _ = checkpoint
    cfg = TrainConfig.from_dict({"model": "molmoe-1b", "init_official": str(path), "tensorboard": False})
    assert cfg.model_config() == molmoe_config(json.loads((path / "config.json").read_text()))
    _, core, _, _ = build_training(cfg, Dist())
    assert torch.equal(core.transformer.ff_out.weight, hf.lm_head.weight)
    assert not core.transformer.wte.embedding.requires_grad  # ft_embedding="lm_head", as for v1


@pytest.mark.parametrize("field,value", [("rope_impl", "cockatoo"), ("weight_tying", True), ("clip_qkv", 8.0)])
def test_molmoe_config_refuses_settings_the_loader_does_not_implement(field, value):
    with pytest.raises(ValueError, match=field):
        molmoe_config(molmoe_config_json(**{field: value}))


def test_molmoe_dir_missing_an_expert_is_refused(tmp_path, checkpoint):
    _, _, _, sd = checkpoint
    del sd["model.transformer.blocks.1.mlp.experts.5.up_proj.weight"]
    write_checkpoint(tmp_path / "broken", molmoe_config_json(), sd)
    with pytest.raises(KeyError, match="block 1 has 5 of 6 experts' up_proj"):
        load_official(tmp_path / "broken")


def test_cli_converts_a_molmoe_dir_to_ours_and_refuses_the_way_back(tmp_path, checkpoint):
    from typer.testing import CliRunner

    from model.checkpoint import load_model
    from model.cli import app

    path, hf, _, _ = checkpoint
    r = CliRunner().invoke(app, ["convert", str(path), str(tmp_path / "ours.pt")])
    assert r.exit_code == 0, r.output
    ours = load_model(tmp_path / "ours.pt").eval()
    ids = torch.randint(0, VOCAB, (1, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert_close(ours(ids).logits, hf(ids).logits, rtol=1e-5, atol=1e-5)
    r = CliRunner().invoke(app, ["convert", str(tmp_path / "ours.pt"), str(tmp_path / "back"), "--to", "official"])
    assert r.exit_code == 2 and "MolmoE" in r.output and not (tmp_path / "back").exists()
