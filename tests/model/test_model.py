"""docs/spec/molmo.md section 11 facts 12 and 16-19 on the model side."""

from __future__ import annotations

import torch
from torch.testing import assert_close

from model.config import get_config
from model.molmo import IMAGE_SUBSEGMENT, Molmo, build_attention_mask, build_model
from model.optim import OptimConfig, cosine_lr


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_fact16_connector_shapes_7b_d_on_meta():
    with torch.device("meta"):
        m = Molmo(get_config("molmo-7b-d"))
    vb = m.vision_backbone
    assert m.transformer.wte.embedding.is_meta  # nothing allocated
    assert vb.pad_embed.shape == (2, 2048)
    for w in (vb.image_pooling_2d.wq, vb.image_pooling_2d.wk, vb.image_pooling_2d.wv):
        assert w.weight.shape == (1024, 2048) and w.bias.shape == (1024,)
    assert vb.image_pooling_2d.wo.weight.shape == (1024, 1024) and vb.image_pooling_2d.wo.bias is not None
    assert _count(vb.image_pooling_2d) == 7_344_128
    assert vb.image_projector.w1.weight.shape == vb.image_projector.w3.weight.shape == (18944, 1024)
    assert vb.image_projector.w2.weight.shape == (3584, 18944)
    assert _count(vb.image_projector) == 106_692_608
    assert m.transformer.wte.new_embedding.shape == (128, 3584)
    assert m.transformer.ff_out.weight.shape == (152064, 3584)
    assert abs(_count(vb.image_vit) / 1e6 - 290.9) < 0.1
    assert len(vb.image_vit.blocks) == 23
    assert not m.transformer.wte.embedding.requires_grad  # ft_embedding="lm_head"
    assert m.transformer.wte.new_embedding.requires_grad and m.transformer.ff_out.weight.requires_grad


def test_fact17_pooling_576x2048_to_144x1024_to_144xd_on_meta():
    with torch.device("meta"):
        m = Molmo(get_config("molmo-7b-d"))
        vb = m.vision_backbone
        feats = vb.image_vit.features(torch.zeros(1, 576, 588))
        assert feats.shape == (1, 576, 2048)
        pooled = vb._pool(feats)
        assert pooled.shape == (1, 144, 1024)
        assert vb.image_projector(pooled).shape == (1, 144, 3584)


def _tiny_batch(cfg, t: int = 40):
    p, k = cfg.vision.n_patches, cfg.tokens_per_crop
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, cfg.llm.vocab_size, (1, t), generator=g)
    patch_id = cfg.llm.vocab_size + 2
    tokens[0, 1:1 + k] = patch_id
    images = torch.randint(0, 256, (1, 1, p, cfg.vision.patch_dim), dtype=torch.uint8, generator=g)
    idx = torch.arange(1, 1 + k).view(1, 1, k)
    return tokens, images, idx


def test_fact18_injection_is_additive():
    cfg = get_config("tiny")
    m = build_model(cfg).eval()
    tokens, images, idx = _tiny_batch(cfg)
    masks = torch.ones(1, 1, cfg.vision.n_patches)
    with torch.no_grad():
        plain = m.transformer.wte(tokens)
        x = m.embed(tokens, images, masks, idx)
        feats = m.vision_backbone(images, masks)
        assert_close(x[0, 1:1 + cfg.tokens_per_crop], plain[0, 1:1 + cfg.tokens_per_crop] + feats[0])
        assert torch.equal(x[0, 1 + cfg.tokens_per_crop:], plain[0, 1 + cfg.tokens_per_crop:])
        m.vision_backbone.image_projector.w2.weight.zero_()  # image features are now exactly 0
        x0 = m.embed(tokens, images, masks, idx)
    patch_row = m.transformer.wte.new_embedding[2]  # <im_patch> = vocab_size + 2
    assert torch.equal(x0[0, 1:1 + cfg.tokens_per_crop], patch_row.expand(cfg.tokens_per_crop, -1))


def test_fact12_subsegment_attention_mask():
    # BOS + 3 image tokens carry 10000; conversation 1 (ids 1), conversation 2 (ids 2)
    sub = torch.tensor([[IMAGE_SUBSEGMENT] * 4 + [1] * 3 + [2] * 3])
    tokens = torch.arange(10).view(1, 10)
    mask = build_attention_mask(tokens, sub)[0, 0]
    for i in range(7, 10):  # conversation 2
        assert not mask[i, 4:7].any(), "conversation 2 must not see conversation 1"
        assert mask[i, :4].all(), "every text token sees the image before it"
        assert mask[i, 7:i + 1].all() and not mask[i, i + 1:].any()
    for i in range(4, 7):
        assert mask[i, :i + 1].all()
    assert build_attention_mask(tokens, None) is None  # plain causal, no padding


def test_fact12_packed_conversation_ignores_the_other_one():
    cfg = get_config("tiny")
    m = build_model(cfg).eval()
    sub = torch.tensor([[IMAGE_SUBSEGMENT] * 4 + [1] * 5 + [2] * 5])
    pos = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7, 8, 4, 5, 6, 7, 8]])
    a = torch.randint(0, 1000, (1, 14))
    b = a.clone()
    b[0, 4:9] = torch.randint(0, 1000, (5,))  # change conversation 1 only
    with torch.no_grad():
        la = m(a, position_ids=pos, subsegment_ids=sub).logits
        lb = m(b, position_ids=pos, subsegment_ids=sub).logits
    assert_close(la[0, 9:], lb[0, 9:])
    assert not torch.allclose(la[0, 4:9], lb[0, 4:9])


def test_fact19_lr_schedule():
    opt, total = OptimConfig(), 22_000
    llm = [cosine_lr(s, opt.llm_lr, opt.llm_warmup, total, opt.alpha_f) for s in (0, 1000, 2000, total)]
    assert llm[0] == 0.0
    assert abs(llm[1] - 1e-5) < 1e-12 and abs(llm[2] - 2e-5) < 1e-12 and abs(llm[3] - 2e-6) < 1e-12
    conn = [cosine_lr(s, opt.connector_lr, opt.connector_warmup, total) for s in range(0, 400)]
    assert max(conn) == conn[200] == 2e-4
    assert cosine_lr(total, opt.vit_lr, opt.vit_warmup, total) == opt.vit_lr * 0.1


def test_padded_and_float_crops_give_zero_features_and_uint8_matches_float():
    cfg = get_config("tiny")
    m = build_model(cfg).eval()
    tokens, images, idx = _tiny_batch(cfg)
    mean = torch.tensor(cfg.vision.mean)[torch.arange(images.shape[-1]) % 3]
    std = torch.tensor(cfg.vision.std)[torch.arange(images.shape[-1]) % 3]
    floats = (images.float() / 255 - mean) / std
    pad = torch.full_like(floats, -1.0)
    with torch.no_grad():
        a = m(tokens, images=images, image_input_idx=idx).logits
        both = torch.cat([floats, pad], 1)  # a collation-padding crop, all -1
        idx2 = torch.cat([idx, torch.full_like(idx, -1)], 1)
        b = m(tokens, images=both, image_input_idx=idx2).logits
    assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_text_only_batch_with_zero_crops_trains():
    cfg = get_config("tiny")
    m = build_model(cfg)
    tokens = torch.randint(0, 1000, (2, 12))
    out = m(tokens, images=torch.zeros(2, 0, cfg.vision.n_patches, 588, dtype=torch.uint8),
            image_input_idx=torch.zeros(2, 0, cfg.tokens_per_crop, dtype=torch.long),
            image_masks=torch.zeros(2, 0, cfg.vision.n_patches), crop_mask=torch.zeros(2, 0, dtype=torch.bool),
            target_tokens=tokens, loss_masks=torch.ones(2, 12), loss_normalizer=24.0, z_loss=1e-4)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert m.vision_backbone.image_vit.blocks[0].attention.wq.weight.grad is not None


def test_siglip_and_metaclip_options_build_and_pool_on_meta():
    for vision, layers, tokens in (("siglip", 27, 196), ("metaclip", 24, 144)):
        cfg = get_config("molmo-7b-d", vision=vision)
        with torch.device("meta"):
            m = Molmo(cfg)
            assert len(m.vision_backbone.image_vit.blocks) == layers
            grid = cfg.vision.grid
            feats = m.vision_backbone.image_vit.features(torch.zeros(1, grid * grid, 588))
            assert feats.shape == (1, grid * grid, 2 * cfg.vision.width)  # SigLIP: no CLS to drop
            assert m.vision_backbone._pool(feats).shape == (1, tokens, cfg.vision.width)  # 27 -> padded to 28
