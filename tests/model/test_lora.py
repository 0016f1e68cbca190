"""LoRA: unchanged at init, adapters saved alone and reloaded, merged export equal, CPU run on shards learns."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_train_learns import learning_config, make_dot_shards
from torch.testing import assert_close

from model.config import get_config
from model.lora import LoraConfig, LoRALinear, apply_lora, load_adapters, merge_lora, save_adapters
from model.molmo import build_model
from model.train import TrainConfig, synthetic_examples, train


def _batch(cfg, seed=0):
    ex = synthetic_examples(cfg, 2, 48, seed)
    from model.collate import collate

    return collate(ex)


@torch.no_grad()
def _logits(model, b):
    keys = ("input_tokens", "images", "image_masks", "image_input_idx")
    return model(**{k: b[k] for k in keys if k in b}).logits.float()


def test_lora_starts_as_the_base_and_merges_to_the_same_function(tmp_path):
    cfg = get_config("tiny")
    base = build_model(cfg, seed=0).eval()
    b = _batch(cfg)
    ref = _logits(base, b)
    model = build_model(cfg, seed=0).eval()
    names = apply_lora(model, LoraConfig(rank=4, alpha=8, base_dtype="fp32"))
    assert len(names) == 7 * cfg.llm.n_layers and all(isinstance(model.get_submodule(n), LoRALinear) for n in names)
    assert_close(_logits(model, b), ref)  # lora_B = 0
    assert all(("lora_" in n) == p.requires_grad for n, p in model.named_parameters())
    with torch.no_grad():
        for n in names:
            model.get_submodule(n).lora_B.normal_(0, 0.05)
    tuned = _logits(model, b)
    assert (tuned - ref).abs().max() > 1e-3
    out = save_adapters(model, tmp_path / "adapters")
    saved = load_file(str(out / "adapter_model.safetensors"))
    assert saved and all(k.endswith((".lora_A", ".lora_B")) for k in saved)  # adapters alone
    fresh = build_model(cfg, seed=0).eval()
    load_adapters(fresh, out)
    assert_close(_logits(fresh, b), tuned)
    merge_lora(model)
    assert not any("lora_" in k for k in model.state_dict())
    assert set(model.state_dict()) == set(base.state_dict())
    assert_close(_logits(model, b), tuned, rtol=1e-5, atol=1e-5)


def test_lora_config_validates():
    with pytest.raises(ValueError):
        LoraConfig(rank=0)
    with pytest.raises(ValueError):
        apply_lora(build_model(get_config("tiny")), LoraConfig(targets=("nothing",)))


def test_lora_run_on_cpu_shards_loss_falls_and_saves_adapters(tmp_path):
    """A frozen bf16 base with fp32 adapters, trained by `train` on dot shards (the `pixmo model train` path)."""
    shards = make_dot_shards(tmp_path / "dots", 120)
    cfg = learning_config(shards, tmp_path / "run", steps=20)
    d = dataclasses.asdict(cfg)
    d.update(lora={"rank": 8, "alpha": 16, "dropout": 0.05}, holdout_fraction=0.0, global_batch_size=8,
             micro_batch_size=8, tensorboard=False)
    d["optim"]["llm_lr"] = 2e-2
    result = train(TrainConfig.from_dict(d))
    losses = [h["loss"] for h in result["history"]]
    assert np.mean(losses[-5:]) < losses[0] - 1.0, losses  # nats; uniform over the vocab is 6.93
    saved = load_file(str(tmp_path / "run" / "adapters" / "adapter_model.safetensors"))
    assert saved and all(k.endswith((".lora_A", ".lora_B")) for k in saved)
    from model.checkpoint import load_model

    model = load_model(tmp_path / "run")  # the LoRA checkpoint loads back for generation / evaluation
    assert model.transformer.blocks[0].attn.q_proj.weight.dtype == torch.bfloat16
