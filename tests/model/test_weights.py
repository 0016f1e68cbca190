"""Official Molmo checkpoint (HF remote-code key layout) -> ours -> back, bit-exact."""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.testing import assert_close

from model.config import get_config
from model.molmo import Molmo
from model.weights import config_to_official, load_official, official_to_ours, ours_to_official, save_official


def official_tiny_state_dict(cfg) -> dict[str, torch.Tensor]:
    """A random checkpoint written from the official key list (docs/spec/molmo.md sections 3-5, 9)."""
    v, c = cfg.vision, cfg.llm
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    vit = "model.vision_backbone.image_vit."
    sd = {vit + "class_embedding": r(v.width), vit + "positional_embedding": r(v.n_patches + 1, v.width),
          vit + "patch_embedding.weight": r(v.width, v.patch_dim),
          vit + "pre_ln.weight": r(v.width), vit + "pre_ln.bias": r(v.width)}
    for i in range(v.n_layers):
        p = f"{vit}transformer.resblocks.{i}."
        for w in ("wq", "wk", "wv", "wo"):
            sd[p + f"attention.{w}.weight"], sd[p + f"attention.{w}.bias"] = r(v.width, v.width), r(v.width)
        sd[p + "feed_forward.w1.weight"], sd[p + "feed_forward.w1.bias"] = r(v.mlp_dim, v.width), r(v.mlp_dim)
        sd[p + "feed_forward.w2.weight"], sd[p + "feed_forward.w2.bias"] = r(v.width, v.mlp_dim), r(v.width)
        for n in ("attention_norm", "ffn_norm"):
            sd[p + f"{n}.weight"], sd[p + f"{n}.bias"] = r(v.width), r(v.width)
    vb = "model.vision_backbone."
    sd[vb + "pad_embed"] = r(2, v.feature_dim)
    for w in ("wq", "wk", "wv"):
        sd[vb + f"image_pooling_2d.{w}.weight"], sd[vb + f"image_pooling_2d.{w}.bias"] = r(v.width, v.feature_dim), r(v.width)
    sd[vb + "image_pooling_2d.wo.weight"], sd[vb + "image_pooling_2d.wo.bias"] = r(v.width, v.width), r(v.width)
    sd[vb + "image_projector.w1.weight"] = r(c.mlp_hidden, v.width)
    sd[vb + "image_projector.w3.weight"] = r(c.mlp_hidden, v.width)
    sd[vb + "image_projector.w2.weight"] = r(c.d_model, c.mlp_hidden)
    t = "model.transformer."
    sd[t + "wte.embedding"] = r(c.embedding_size, c.d_model)
    sd[t + "wte.new_embedding"] = r(c.additional_vocab_size, c.d_model)
    qkv = c.d_model + 2 * c.n_kv_heads * c.head_dim
    for i in range(c.n_layers):
        p = f"{t}blocks.{i}."
        sd[p + "att_proj.weight"], sd[p + "att_proj.bias"] = r(qkv, c.d_model), r(qkv)
        sd[p + "attn_out.weight"] = r(c.d_model, c.d_model)
        sd[p + "ff_proj.weight"] = r(2 * c.mlp_hidden, c.d_model)  # [up; gate]
        sd[p + "ff_out.weight"] = r(c.d_model, c.mlp_hidden)
        sd[p + "attn_norm.weight"], sd[p + "ff_norm.weight"] = r(c.d_model), r(c.d_model)
    sd[t + "ln_f.weight"] = r(c.d_model)
    sd[t + "ff_out.weight"] = r(c.embedding_size, c.d_model)
    return sd


def test_official_checkpoint_converts_loads_runs_and_converts_back(tmp_path):
    cfg = get_config("tiny")
    official = official_tiny_state_dict(cfg)
    d = tmp_path / "molmo-official"
    d.mkdir()
    save_file(official, str(d / "model.safetensors"))
    (d / "config.json").write_text(json.dumps(config_to_official(cfg)))

    model = load_official(d, cfg)  # strict load: every key maps, no key is missing
    assert model.cfg.llm.mlp_hidden == cfg.llm.mlp_hidden
    tokens = torch.randint(0, cfg.llm.vocab_size, (2, 24))
    images = torch.randint(0, 256, (2, 1, cfg.vision.n_patches, 588), dtype=torch.uint8)
    idx = torch.arange(1, 1 + cfg.tokens_per_crop).expand(2, 1, -1)
    with torch.no_grad():
        logits = model(tokens, images=images, image_input_idx=idx).logits
    assert logits.shape == (2, 24, cfg.llm.embedding_size) and torch.isfinite(logits).all()

    back = ours_to_official(model.state_dict(), cfg)
    assert set(back) == set(official)
    for k, v in official.items():
        assert torch.equal(back[k], v), k

    out = save_official(model, tmp_path / "exported")
    again = load_official(out)  # config read from the exported config.json
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k


def test_fused_projections_keep_their_meaning():
    """att_proj is [q; k; v] and ff_proj is [up; gate] with silu(gate) * up (docs/spec/molmo.md 5)."""
    cfg = get_config("tiny")
    official = official_tiny_state_dict(cfg)
    with torch.device("meta"):
        model = Molmo(cfg)
    model.load_state_dict(official_to_ours(official, cfg), strict=True, assign=True)
    block = model.transformer.blocks[0]
    x = torch.randn(3, cfg.llm.d_model)
    ff = official["model.transformer.blocks.0.ff_proj.weight"]
    up, gate = (x @ ff.T).chunk(2, dim=-1)
    ref = (F.silu(gate) * up) @ official["model.transformer.blocks.0.ff_out.weight"].T
    with torch.no_grad():
        assert_close(block.mlp(x), ref)
        q = block.attn.q_proj(x)
    att = official["model.transformer.blocks.0.att_proj.weight"]
    assert_close(q, x @ att[: cfg.llm.d_model].T + official["model.transformer.blocks.0.att_proj.bias"][: cfg.llm.d_model])


def test_cli_convert_official_to_ours_and_back(tmp_path):
    from typer.testing import CliRunner

    from model.cli import app
    from model.weights import read_state_dict

    cfg = get_config("tiny")
    d = tmp_path / "official"
    d.mkdir()
    official = official_tiny_state_dict(cfg)
    save_file(official, str(d / "model.safetensors"))
    cfg_json = config_to_official(cfg)
    (d / "config.json").write_text(json.dumps(cfg_json))
    r = CliRunner().invoke(app, ["convert", str(d), str(tmp_path / "ours.pt")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["convert", str(tmp_path / "ours.pt"), str(tmp_path / "back"), "--to", "official"])
    assert r.exit_code == 0, r.output
    back = read_state_dict(tmp_path / "back")
    assert set(back) == set(official) and all(torch.equal(back[k], v) for k, v in official.items())
