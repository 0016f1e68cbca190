"""model/config.py (and the other model configs): impossible shapes fail at construction with a message naming
the field; configs saved with the dropped labels `vision.kind` / `connector.pooling` still load."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from model.config import PRESETS, ConnectorConfig, LLMConfig, MolmoConfig, VisionConfig, get_config
from model.examples import ExampleConfig
from model.lora import LoraConfig
from model.molmo import Molmo
from model.optim import OptimConfig
from model.train_config import TrainConfig


@pytest.mark.parametrize("make, words", [
    (lambda: VisionConfig(n_heads=5), "vision.width (1024) is not a multiple of n_heads (5)"),
    (lambda: VisionConfig(image_size=100), "not a multiple of patch_size"),
    (lambda: VisionConfig(act="relu"), "VisionConfig.act must be one of"),
    (lambda: VisionConfig(vit_layers=(-30,)), "vit_layers"),
    (lambda: VisionConfig(width=0), "VisionConfig.width must be > 0"),
    (lambda: LLMConfig(d_model=128, n_heads=5, n_kv_heads=5), "not a multiple of n_heads"),
    (lambda: LLMConfig(n_heads=28, n_kv_heads=5), "multiple of n_kv_heads"),
    (lambda: LLMConfig(d_model=120, n_heads=8, n_kv_heads=8), "head_dim (15) must be even"),
    (lambda: LLMConfig(vocab_size=200000), "embedding_size (152064) is smaller than vocab_size"),
    (lambda: LLMConfig(moe_top_k=2), "needs moe_experts"),
    (lambda: LLMConfig(rope_scaling={"rope_type": "dynamic"}), "rope_scaling.rope_type"),
    (lambda: ConnectorConfig(pad_embed="regress"), "pad_embed must be one of"),
    (lambda: MolmoConfig(connector=ConnectorConfig(pool_heads=5)), "multiple of connector.pool_heads"),
    (lambda: MolmoConfig(overlap_margins=(12, 12)), "leave a window in a 24-patch crop"),
    (lambda: MolmoConfig(overlap_margins=(3, 4)), "multiple of connector.pool_size"),
    (lambda: MolmoConfig(ft_embedding="wte"), "ft_embedding must be one of"),
    (lambda: MolmoConfig(response_residual_dropout=1.0), "response_residual_dropout must be in [0, 1)"),
    (lambda: OptimConfig(llm_lr=-1.0), "optim.llm_lr"),
    (lambda: OptimConfig(vit_warmup=-1), "optim.vit_lr must be a finite number >= 0 and optim.vit_warmup >= 0"),
    (lambda: OptimConfig(betas=(0.9, 1.0)), "optim.betas"),
    (lambda: LoraConfig(rank=0), "rank >= 1"),
    (lambda: ExampleConfig(style_kind="fancy"), "ExampleConfig.style_kind must be one of"),
    (lambda: TrainConfig(micro_batch_size=16, global_batch_size=8), "larger than global_batch_size"),
    (lambda: TrainConfig(stop_after=500, max_steps=200), "stop_after must be in 1..max_steps"),
    (lambda: TrainConfig(model="tiny-ish"), "unknown model preset 'tiny-ish'"),
    (lambda: TrainConfig(activation_checkpointing="half"), "activation_checkpointing must be one of"),
])
def test_impossible_config_fails_at_construction(make, words):
    with pytest.raises(ValueError) as err:
        make()
    assert words in str(err.value)


def test_every_preset_is_valid_and_round_trips_through_a_dict():
    for name in PRESETS:
        cfg = get_config(name)
        assert MolmoConfig.from_dict(cfg.to_dict()) == cfg, name
    for vision in ("clip", "siglip", "metaclip"):
        assert get_config("molmo-7b-d", vision=vision).vision.n_layers in (23, 24, 27)


def test_config_saved_with_the_dropped_labels_still_loads():
    for name in ("tiny", "molmo2-tiny"):
        old = get_config(name).to_dict()
        old["vision"]["kind"] = "siglip" if name.startswith("molmo2") else "clip"
        old["connector"]["pooling"] = "index_masked_meanq" if name.startswith("molmo2") else "attention_meanq"
        assert MolmoConfig.from_dict(old) == get_config(name)
    old["connector"]["pooling"] = "attention_2x2"
    with pytest.raises(ValueError, match=r"connector.pooling 'attention_2x2' is not supported"):
        MolmoConfig.from_dict(old)


def test_from_dict_refuses_unknown_fields_and_wrong_types():
    d = get_config("tiny").to_dict()
    with pytest.raises(ValueError, match="unknown LLMConfig field 'llm.heads'"):
        MolmoConfig.from_dict({**d, "llm": {**d["llm"], "heads": 4}})
    with pytest.raises(ValueError, match="llm.n_heads: expected an integer, got '4'"):
        MolmoConfig.from_dict({**d, "llm": {**d["llm"], "n_heads": "4"}})


def test_v1_projector_width_follows_connector_projector_hidden():
    cfg = get_config("tiny")
    cfg = dataclasses.replace(cfg, connector=dataclasses.replace(cfg.connector, projector_hidden=40))
    with torch.device("meta"):
        m = Molmo(cfg)
    assert m.vision_backbone.image_projector.w1.weight.shape == (40, cfg.vision.width)


def test_preprocess_configs_refuse_zero_sizes_with_a_message():
    from model.molmo2.preprocessing import Molmo2PreprocessConfig
    from model.tiling import PreprocessConfig

    with pytest.raises(ValueError, match="patch_size and pooling must be >= 1"):
        PreprocessConfig(patch_size=0)  # was a ZeroDivisionError
    with pytest.raises(ValueError, match="max_crops >= 1"):
        Molmo2PreprocessConfig(patch_size=0)
    with pytest.raises(ValueError, match="margins >= 0"):
        Molmo2PreprocessConfig(overlap_margins=(-1, 2))
