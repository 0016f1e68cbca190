"""Molmo v1 export in the released remote-code layout: every file and field, bit-exact reload, tokenizer ids,
tied heads, and the key names vLLM's MolmoForCausalLM loader maps (docs/spec/molmo.md section 9)."""

from __future__ import annotations

import json

import pytest
import torch

from model.config import get_config
from model.hf_molmo import AUTO_MAP_MODEL, AUTO_MAP_PROCESSOR, REMOTE_CODE_FILES
from model.molmo import Molmo
from model.tokenizer import SPECIAL_TOKENS, MolmoTokenizer
from model.weights import load_official, read_state_dict, save_official

# Released allenai/Molmo-7B-D-0924 config.json keys (docs/spec/molmo.md section 9).
RELEASED_CONFIG_KEYS = {
    "architectures", "attention_layer_norm", "auto_map", "clip_qkv", "embedding_size", "hidden_size",
    "initializer_range", "intermediate_size", "layer_norm_eps", "layer_norm_type", "max_position_embeddings",
    "model_type", "norm_after", "num_attention_heads", "num_hidden_layers", "num_key_value_heads", "qkv_bias",
    "rope_theta", "tie_word_embeddings", "torch_dtype", "use_cache", "use_position_ids", "vocab_size", "weight_tying",
}
RELEASED_PREPROCESSOR_KEYS = {
    "auto_map", "base_image_input_size", "do_normalize", "image_mean", "image_padding_mask", "image_patch_size",
    "image_processor_type", "image_std", "image_token_length_h", "image_token_length_w", "max_crops",
    "overlap_margins", "processor_class",
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    cfg = get_config("tiny")
    model = Molmo(cfg)
    out = save_official(model, tmp_path_factory.mktemp("export") / "molmo", tokenizer=MolmoTokenizer.tiny())
    return model, out


def test_export_writes_every_file_of_the_released_layout(exported):
    _, out = exported
    names = {p.name for p in out.iterdir()}
    assert names == {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                     "special_tokens_map.json", "preprocessor_config.json", "processor_config.json",
                     "generation_config.json"}


def test_config_json_has_the_released_fields_auto_map_and_untied_head(exported):
    model, out = exported
    cfg, c = model.cfg, model.cfg.llm
    hf = json.loads((out / "config.json").read_text())
    assert RELEASED_CONFIG_KEYS <= set(hf)
    assert hf["architectures"] == ["MolmoForCausalLM"] and hf["model_type"] == "molmo"
    assert hf["auto_map"] == {"AutoConfig": "config_molmo.MolmoConfig",
                              "AutoModelForCausalLM": "modeling_molmo.MolmoForCausalLM"} == AUTO_MAP_MODEL
    assert hf["tie_word_embeddings"] is False and hf["weight_tying"] is False  # random head != embedding
    assert (hf["hidden_size"], hf["num_hidden_layers"], hf["num_attention_heads"], hf["num_key_value_heads"]) == (
        c.d_model, c.n_layers, c.n_heads, c.n_kv_heads)
    assert hf["intermediate_size"] == 2 * c.mlp_hidden and hf["qkv_bias"] == c.qkv_bias
    assert hf["vocab_size"] == c.vocab_size and hf["embedding_size"] == c.embedding_size
    assert hf["layer_norm_eps"] == c.rms_eps and hf["rope_theta"] == c.rope_theta
    assert hf["max_position_embeddings"] == c.max_position and hf["initializer_range"] == cfg.init_std
    assert hf["torch_dtype"] == "float32" and hf["layer_norm_type"] == "rms"


def test_weights_use_the_key_names_and_sizes_vllm_molmo_loader_maps(exported):
    """vLLM concatenates wte.embedding + wte.new_embedding into embed_tokens (embedding_size + 128 rows),
    maps ff_out -> lm_head (embedding_size rows), att_proj -> qkv_proj, ff_proj -> gate_up_proj."""
    model, out = exported
    c = model.cfg.llm
    hf = json.loads((out / "config.json").read_text())
    sd = read_state_dict(out)
    t = "model.transformer."
    assert sd[t + "wte.embedding"].shape == (hf["embedding_size"], c.d_model)
    assert sd[t + "wte.new_embedding"].shape == (128, c.d_model) == (hf["additional_vocab_size"], c.d_model)
    assert sd[t + "ff_out.weight"].shape == (hf["embedding_size"], c.d_model)
    kv = c.n_kv_heads * c.head_dim
    for i in range(c.n_layers):
        b = f"{t}blocks.{i}."
        assert sd[b + "att_proj.weight"].shape == (c.d_model + 2 * kv, c.d_model)
        assert sd[b + "ff_proj.weight"].shape == (2 * c.mlp_hidden, c.d_model)
        for k in ("attn_out.weight", "ff_out.weight", "attn_norm.weight", "ff_norm.weight"):
            assert b + k in sd
    assert t + "ln_f.weight" in sd
    prefixes = ("model.transformer.", "model.vision_backbone.")
    assert all(k.startswith(prefixes) for k in sd)
    assert any(k.startswith("model.vision_backbone.image_vit.transformer.resblocks.") for k in sd)


def test_reloads_bit_exactly_from_the_export(exported):
    model, out = exported
    again = load_official(out)
    assert again.cfg == model.cfg
    own = model.state_dict()
    assert set(again.state_dict()) == set(own)
    for k, v in again.state_dict().items():
        assert torch.equal(v, own[k]), k


def test_autotokenizer_on_the_export_gives_our_ids_with_image_tokens(exported):
    from transformers import AutoTokenizer

    _, out = exported
    tok = MolmoTokenizer.tiny()
    hf = AutoTokenizer.from_pretrained(str(out), trust_remote_code=False)
    text = " User: Point to the dogs. Assistant: <points x1=\"12.5\" y1=\"40.0\">dogs</points>"
    image = "<im_start>" + ("<im_patch>" * 4 + "<im_col>") * 2 + "<im_end><|image|>"
    ids = hf.encode(image + text, add_special_tokens=False)
    ours = [tok.image_start_id] + ([tok.image_patch_id] * 4 + [tok.image_col_id]) * 2
    ours += [tok.image_end_id, tok.image_prompt_id] + tok.encode(text)
    assert ids == ours
    assert {t: hf.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS} == tok.special_ids
    assert hf.eos_token_id == tok.eos_id and len(hf) == tok.vocab_size + len(SPECIAL_TOKENS)
    smap = json.loads((out / "special_tokens_map.json").read_text())
    assert smap["additional_special_tokens"][-5:] == list(SPECIAL_TOKENS)


def test_preprocessor_and_generation_configs_carry_our_settings(exported):
    model, out = exported
    p = model.cfg.preprocess_config(MolmoTokenizer.tiny())
    pre = json.loads((out / "preprocessor_config.json").read_text())
    assert RELEASED_PREPROCESSOR_KEYS <= set(pre)
    assert pre["auto_map"] == AUTO_MAP_PROCESSOR
    assert pre["base_image_input_size"] == [p.crop_size, p.crop_size] and pre["image_patch_size"] == p.patch_size
    assert pre["max_crops"] == p.max_crops and pre["overlap_margins"] == list(p.overlap_margins)
    assert pre["image_mean"] == list(p.mean) and pre["image_std"] == list(p.std)
    assert pre["image_token_length_h"] == pre["image_token_length_w"] == p.crop_patches // p.pooling
    assert pre["image_padding_mask"] is p.mask_shift
    assert [pre[k] for k in ("image_start_token", "image_end_token", "image_patch_token", "image_col_token",
                             "image_prompt_token")] == list(SPECIAL_TOKENS)
    proc = json.loads((out / "processor_config.json").read_text())
    assert proc["auto_map"] == {"AutoProcessor": "preprocessing_molmo.MolmoProcessor"}
    gen = json.loads((out / "generation_config.json").read_text())
    tok = MolmoTokenizer.tiny()
    assert gen["eos_token_id"] == tok.eos_id == gen["pad_token_id"] == gen["bos_token_id"]


def test_tied_head_is_written_tied_without_ff_out_and_reloads(tmp_path):
    torch.manual_seed(1)
    model = Molmo(get_config("tiny"))
    with torch.no_grad():
        model.transformer.ff_out.weight.copy_(model.transformer.wte.embedding)
    out = save_official(model, tmp_path / "tied", tokenizer=MolmoTokenizer.tiny())
    hf = json.loads((out / "config.json").read_text())
    assert hf["tie_word_embeddings"] is True and hf["weight_tying"] is True
    assert "model.transformer.ff_out.weight" not in read_state_dict(out)
    again = load_official(out)
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k


def test_cli_export_copies_remote_code_and_refuses_to_overwrite(tmp_path):
    from typer.testing import CliRunner

    from model.cli import app

    torch.manual_seed(0)
    model = Molmo(get_config("tiny"))
    ckpt = tmp_path / "ours.pt"
    torch.save({"model": model.state_dict(), "model_config": model.cfg.to_dict(), "step": 0}, ckpt)
    snap = tmp_path / "snapshot"
    snap.mkdir()
    for f in REMOTE_CODE_FILES[:-1]:
        (snap / f).write_text(f"# stand-in for {f}\n")
    out = tmp_path / "export"
    r = CliRunner().invoke(app, ["convert", str(ckpt), str(out), "--to", "official", "--code-from", str(snap)])
    assert r.exit_code == 2 and "image_preprocessing_molmo.py" in r.output  # incomplete snapshot: one line
    assert not out.exists()  # refused before anything was written
    (snap / REMOTE_CODE_FILES[-1]).write_text("# stand-in\n")
    out2 = tmp_path / "export2"
    r = CliRunner().invoke(app, ["convert", str(ckpt), str(out2), "--to", "official", "--code-from", str(snap)])
    assert r.exit_code == 0, r.output
    assert all((out2 / f).read_text() == (snap / f).read_text() for f in REMOTE_CODE_FILES)
    assert (out2 / "tokenizer.json").exists() and (out2 / "preprocessor_config.json").exists()
    before = (out2 / "model.safetensors").read_bytes()
    r = CliRunner().invoke(app, ["convert", str(ckpt), str(out2), "--to", "official"])
    assert r.exit_code == 2 and "not empty" in r.output
    assert (out2 / "model.safetensors").read_bytes() == before


def test_export_from_a_hugging_face_tokenizer_pads_with_extra_tokens(tmp_path):
    """A transformers-backed MolmoTokenizer (as for Qwen2: base entries, fillers, then the image tokens)."""
    from transformers import AutoTokenizer

    MolmoTokenizer.tiny().save_hf(tmp_path / "base")
    tok = MolmoTokenizer.from_pretrained(tmp_path / "base", pad_to=1024)
    torch.manual_seed(0)
    out = save_official(Molmo(get_config("tiny")), tmp_path / "export", tokenizer=tok)
    hf = AutoTokenizer.from_pretrained(str(out), trust_remote_code=False)
    assert {t: hf.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS} == tok.special_ids
    n_base = len(AutoTokenizer.from_pretrained(str(tmp_path / "base")))
    assert hf.convert_tokens_to_ids(f"|<EXTRA_TOKENS_{1024 - n_base - 1}>|") == 1023
    assert hf.encode("<|image|> vqa2:", add_special_tokens=False) == [tok.image_prompt_id] + tok.encode(" vqa2:")


def _vllm_name(key: str) -> str:
    """The parameter name vLLM's MolmoForCausalLM loader gives an exported key (docs/spec/molmo.md section 9)."""
    for old, new in (("image_projector.w1.", "image_projector.gate_proj."), ("image_projector.w3.", "image_projector.up_proj."),
                     ("image_projector.w2.", "image_projector.down_proj."), ("att_proj", "self_attn.qkv_proj"),
                     ("attn_out", "self_attn.o_proj"), ("q_norm", "self_attn.q_norm"), ("k_norm", "self_attn.k_norm"),
                     ("ff_proj", "mlp.gate_up_proj"), ("ff_out", "mlp.down_proj"), ("attn_norm", "input_layernorm"),
                     ("ff_norm", "post_attention_layernorm")):
        key = key.replace(old, new)
    for old, new in (("model.vision_backbone.", "vision_backbone."), ("model.transformer.blocks.", "model.layers."),
                     ("model.transformer.ln_f.", "model.norm."), ("model.transformer.mlp.down_proj.", "lm_head.")):
        if key.startswith(old):
            key = new + key[len(old):]
    return key


def test_every_exported_key_lands_on_a_vllm_molmo_parameter(exported):
    model, out = exported
    c = model.cfg.llm
    sd = read_state_dict(out)
    emb = [k for k in sd if ".wte." in k]
    assert sorted(emb) == ["model.transformer.wte.embedding", "model.transformer.wte.new_embedding"]
    names = {_vllm_name(k) for k in sd if k not in emb}
    vit = "vision_backbone.image_vit."
    expected = {"lm_head.weight", "model.norm.weight", "vision_backbone.pad_embed", vit + "class_embedding",
                vit + "positional_embedding", vit + "patch_embedding.weight", vit + "pre_ln.weight", vit + "pre_ln.bias"}
    expected |= {f"vision_backbone.image_pooling_2d.{w}.{s}" for w in ("wq", "wk", "wv", "wo") for s in ("weight", "bias")}
    expected |= {f"vision_backbone.image_projector.{p}.weight" for p in ("gate_proj", "up_proj", "down_proj")}
    for i in range(model.cfg.vision.n_layers):
        r = f"{vit}transformer.resblocks.{i}."
        expected |= {r + f"attention.{w}.{s}" for w in ("wq", "wk", "wv", "wo") for s in ("weight", "bias")}
        expected |= {r + f"{m}.{s}" for m in ("feed_forward.w1", "feed_forward.w2", "attention_norm", "ffn_norm")
                     for s in ("weight", "bias")}
    for i in range(c.n_layers):
        b = f"model.layers.{i}."
        expected |= {b + n + ".weight" for n in ("self_attn.qkv_proj", "self_attn.o_proj", "mlp.gate_up_proj",
                                                 "mlp.down_proj", "input_layernorm", "post_attention_layernorm")}
        expected |= {b + "self_attn.qkv_proj.bias"} if c.qkv_bias else set()
        expected |= {b + f"self_attn.{n}.weight" for n in ("q_norm", "k_norm")} if c.qk_norm else set()
    assert names == expected
    rows = sd["model.transformer.wte.embedding"].shape[0] + sd["model.transformer.wte.new_embedding"].shape[0]
    hf = json.loads((out / "config.json").read_text())
    assert rows == hf["embedding_size"] + 128  # vLLM's embed_tokens: embedding_size + its fixed 128
