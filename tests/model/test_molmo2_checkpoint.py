"""Molmo2 checkpoint directories: transformers -> ours -> fine-tune -> export -> transformers, same tokens."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch.testing import assert_close

from model.generate import generate
from model.molmo2.hf_dir import load_molmo2_dir, save_molmo2_dir
from tests.model.molmo2_pair import batch, hf_inputs, hf_pair, prompt, random_image, save_hf, tiny_config

transformers = pytest.importorskip("transformers")


def _shapes(path):
    out = {}
    for f in sorted(path.glob("*.safetensors")):
        with safe_open(str(f), "pt") as st:
            out.update({k: tuple(st.get_slice(k).get_shape()) for k in st.keys()})
    return out


def _finetune(model, b, steps=3):
    """A few AdamW steps on next-token targets of the batch (loss on every text token)."""
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    targets = torch.cat([b["input_tokens"][:, 1:], torch.full_like(b["input_tokens"][:, :1], -1)], 1)
    targets = torch.where(targets < model.cfg.llm.vocab_size, targets, -1)  # no loss on image tokens
    losses = []
    for _ in range(steps):
        out = model(**b, target_tokens=targets)
        loss = out.ce_sum / out.weight_sum
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def assert_generates_like_ours(back, ours, cfg, b: dict, new_tokens: int = 6) -> None:
    """transformers' greedy generation from the exported dir equals ours on the same batch."""
    with torch.no_grad():
        gen = back.generate(**hf_inputs(cfg, b), max_new_tokens=new_tokens, do_sample=False, eos_token_id=None,
                            pad_token_id=0)
    assert generate(ours, b, max_new_tokens=new_tokens, eos_id=-100) == gen[:, b["input_tokens"].shape[1]:].tolist()


def shard_prompt(shards, tok, cfg, question: str) -> dict:
    """A one-row prompt batch: the first shard image and ``question``."""
    from model.molmo2.data import collate, encode_example
    from model.molmo2.preprocessing import Molmo2ImageProcessor, Molmo2PreprocessConfig
    from model.preprocessing import load_image
    from pixmo.shards import iter_samples

    proc = Molmo2ImageProcessor(Molmo2PreprocessConfig.from_model(cfg))
    row = encode_example([question], load_image(next(iter_samples(shards)).image), tok, cfg, proc, 256)
    return {k: v for k, v in collate([row]).items() if k not in ("target_tokens", "loss_masks")}


def test_loads_transformers_dir_with_equal_embedding_halves_sharded(tmp_path):
    """save_pretrained writes the two tables as equal halves (docs/spec/molmo2.md 'Observed bug'); we re-split."""
    cfg = tiny_config()
    hf, ref = hf_pair(cfg, 7)
    save_hf(hf, cfg, tmp_path / "hf", max_shard_size="100KB")
    shapes = _shapes(tmp_path / "hf")
    assert len(list((tmp_path / "hf").glob("*.safetensors"))) > 1  # sharded
    assert shapes["model.transformer.wte.embedding"] == shapes["model.transformer.wte.new_embedding"]
    ours = load_molmo2_dir(tmp_path / "hf")
    assert ours.transformer.wte.embedding.shape[0] == cfg.llm.vocab_size
    assert ours.transformer.wte.new_embedding.shape[0] == cfg.llm.additional_vocab_size
    for k, v in ref.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v), k


def test_round_trip_finetune_export_transformers_generates_same_tokens(tmp_path):
    rng = np.random.default_rng(11)
    cfg = tiny_config()
    hf, _ = hf_pair(cfg, 11)
    save_hf(hf, cfg, tmp_path / "hf")
    ours = load_molmo2_dir(tmp_path / "hf")
    b = batch(cfg, [(prompt(cfg, rng, 1, 4), [random_image(rng)]),
                    (prompt(cfg, rng, 2, 6), [random_image(rng), random_image(rng)])])
    losses = _finetune(ours, b)
    assert losses[-1] < losses[0]
    out = save_molmo2_dir(ours, tmp_path / "export", max_shard_bytes=200_000)
    with pytest.raises(FileExistsError):  # never overwrites
        save_molmo2_dir(ours, out)
    shapes = _shapes(out)
    assert shapes["model.transformer.wte.embedding"][0] == cfg.llm.vocab_size  # the configured split
    assert shapes["model.transformer.wte.new_embedding"][0] == cfg.llm.additional_vocab_size
    assert (out / "model.safetensors.index.json").exists()
    assert json.loads((out / "config.json").read_text())["model_type"] == "molmo2"

    back = transformers.Molmo2ForConditionalGeneration.from_pretrained(str(out)).eval()
    valid = b["input_tokens"] >= 0
    pos = (valid.long().cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        ref = back(**hf_inputs(cfg, b), position_ids=pos).logits
        got = ours(**b).logits
    assert_close(got[valid], ref[valid], rtol=1e-5, atol=1e-5)
    assert_generates_like_ours(back, ours, cfg, b)
    again = load_molmo2_dir(out)  # and our own loader reads the export
    for k, v in ours.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k


def test_exported_tokenizer_has_molmo2_tokens_and_chat_template(tmp_path):
    cfg = tiny_config()
    _, ours = hf_pair(cfg, 3)
    out = save_molmo2_dir(ours, tmp_path / "export")
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    ids = cfg.image_tokens
    assert tok.convert_tokens_to_ids(["<im_patch>", "<im_col>", "<low_res_im_start>", "<|image|>"]) == [
        ids.image_patch, ids.image_col, ids.low_res_image_start, ids.image_placeholder]
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Point to the dog"}]}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert "<|image|>Point to the dog" in text and text.endswith("assistant\n")
    pre = json.loads((out / "preprocessor_config.json").read_text())
    assert pre["max_crops"] == cfg.max_crops and pre["size"]["height"] == cfg.vision.image_size
    assert load_molmo2_dir(out).cfg.image_tokens == ids  # <im_col> / <|image|> resolved from the tokenizer


def test_lora_merged_molmo2_export_generates_same_tokens(tmp_path):
    from model.lora import LLM_TARGETS, LoraConfig, apply_lora, merge_lora

    rng = np.random.default_rng(13)
    cfg = tiny_config()
    _, ours = hf_pair(cfg, 13)
    apply_lora(ours, LoraConfig(rank=4, alpha=8, base_dtype="fp32", targets=(*LLM_TARGETS, "wq", "wv")))
    b = batch(cfg, [(prompt(cfg, rng, 1, 4), [random_image(rng)]), (prompt(cfg, rng, 1, 8), [random_image(rng)])])
    losses = _finetune(ours, b)
    assert losses[-1] < losses[0]
    merge_lora(ours)
    out = save_molmo2_dir(ours, tmp_path / "export")
    back = transformers.Molmo2ForConditionalGeneration.from_pretrained(str(out)).eval()
    assert_generates_like_ours(back, ours, cfg, b)


def test_finetune_on_shards_then_export_generates_same_tokens(tmp_path):
    """transformers tiny -> ours -> a few steps on dot shards (model.data) -> export -> same tokens."""
    import itertools

    from test_train_learns import make_dot_shards

    from model.data import build_dataloader
    from model.examples import ExampleConfig
    from model.molmo2.hf_dir import tiny_molmo2_tokenizer

    cfg = tiny_config()
    hf, _ = hf_pair(cfg, 17)
    save_hf(hf, cfg, tmp_path / "hf")
    ours = load_molmo2_dir(tmp_path / "hf")
    tok = tiny_molmo2_tokenizer(cfg)
    shards = make_dot_shards(tmp_path / "dots", 16)  # one chat row per image: its annotations are turns
    loader = build_dataloader(shards, tok, seq_len=256, batch_size=4, packing=False, model_config=cfg,
                              examples=ExampleConfig(point_format=cfg.family))
    batches = list(itertools.islice(loader, 4))
    assert len(batches) == 4 and all(int((b["loss_masks"] > 0).sum()) > 0 for b in batches)
    ours.train()
    opt = torch.optim.AdamW([p for p in ours.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(3):
        for b in batches:
            out = ours(**b)
            loss = out.ce_sum / out.weight_sum
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    ours.eval()
    assert np.mean(losses[-4:]) < np.mean(losses[:4])
    out = save_molmo2_dir(ours, tmp_path / "export")
    back = transformers.Molmo2ForConditionalGeneration.from_pretrained(str(out)).eval()
    assert_generates_like_ours(back, ours, cfg, shard_prompt(shards, tok, cfg, " How many dots are there?"))


def test_train_finetunes_a_transformers_molmo2_dir_on_shards_and_exports(tmp_path):
    """`pixmo model train`'s loop with init_official = a transformers Molmo2 dir; the export matches ours."""
    from test_train_learns import make_dot_shards

    from model.checkpoint import load_model
    from model.molmo2.data import load_molmo2_tokenizer
    from model.train import TrainConfig, train

    cfg = tiny_config()
    hf, _ = hf_pair(cfg, 19)
    save_hf(hf, cfg, tmp_path / "hf")
    shards = make_dot_shards(tmp_path / "dots", 16)
    result = train(TrainConfig.from_dict({
        "model": "molmo2-tiny", "tokenizer": "tiny", "init_official": str(tmp_path / "hf"),
        "train_shards": [str(shards)], "out_dir": str(tmp_path / "run"), "seq_len": 256, "global_batch_size": 4,
        "micro_batch_size": 4, "max_steps": 6, "tensorboard": False, "resume": False, "holdout_fraction": 0.0,
        "optim": {"connector_lr": 3e-3, "vit_lr": 1e-3, "llm_lr": 3e-3, "connector_warmup": 1, "vit_warmup": 1,
                  "llm_warmup": 1}}))
    assert len(result["history"]) == 6 and all(np.isfinite(h["loss"]) for h in result["history"])
    ours = load_model(tmp_path / "run")
    assert type(ours).__name__ == "Molmo2"
    assert not torch.equal(ours.transformer.ff_out.weight, hf.lm_head.weight)  # fine-tuned
    out = save_molmo2_dir(ours, tmp_path / "export", source=tmp_path / "hf")
    back = transformers.Molmo2ForConditionalGeneration.from_pretrained(str(out)).eval()
    tok = load_molmo2_tokenizer("tiny", cfg)
    assert_generates_like_ours(back, ours, cfg, shard_prompt(shards, tok, cfg, " What color are the dots?"), 5)
