"""Shards and mixtures -> batches: determinism across workers and ranks, held-out split, eval meta."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pixmo_samples import sample_with

from model.data import build_dataloader, split_of
from model.examples import ExampleConfig
from model.tiling import PreprocessConfig
from model.tokenizer import MolmoTokenizer
from pixmo.mixture import MixtureConfig, MixtureSource
from pixmo.shards import write_samples

NAMES = ["points", "count", "clock", "charts", "ama"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: intra-op threads only add overhead (10x on a loaded 2-core machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tok():
    return MolmoTokenizer.tiny()


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    write_samples(root / "a", [sample_with(NAMES, seed=i, size=(160 + 8 * i, 120)) for i in range(8)],
                  dataset="a", max_count=3)
    write_samples(root / "b", [sample_with(["cap"], seed=100 + i) for i in range(4)], dataset="b")
    return root


def load(src, tok, **kw):
    kw.setdefault("seq_len", 256)
    kw.setdefault("batch_size", 2)
    return list(build_dataloader(src, tok, PreprocessConfig.tiny(), **kw))


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if k != "meta")


def test_batches_follow_the_contract(shards, tok):
    batches = load(shards / "a", tok)
    assert len(batches) == 4
    b = batches[0]
    assert b["input_tokens"].shape == (2, 256) and b["images"].dtype == torch.uint8
    assert b["images"].shape[2:] == (16, 588) and b["crop_mask"].all()
    assert set(b["subsegment_ids"][0].unique().tolist()) == {-1, 1, 2, 3, 4, 5, 6, 10000}  # 5 subsets, docs x2
    valid = b["image_input_idx"] >= 0
    rows = torch.arange(2)[:, None, None].expand_as(valid)
    assert (b["input_tokens"][rows[valid], b["image_input_idx"][valid]] == tok.image_patch_id).all()
    w = b["loss_masks"][b["loss_masks"] > 0]
    assert torch.allclose(w, torch.full_like(w, 6 ** -0.5))


def test_workers_do_not_change_batches(shards, tok):
    serial = load(shards / "a", tok, batch_size=3)
    parallel = load(shards / "a", tok, batch_size=3, num_workers=2)
    assert len(serial) == len(parallel) == 3
    assert all(same(a, b) for a, b in zip(serial, parallel, strict=True))


def test_ranks_split_the_global_batch(shards, tok):
    full = load(shards / "a", tok, batch_size=4)
    r0 = load(shards / "a", tok, batch_size=2, rank=0, world_size=2)
    r1 = load(shards / "a", tok, batch_size=2, rank=1, world_size=2)
    for g, b in enumerate(full):
        for k in ("input_tokens", "loss_masks", "position_ids"):
            assert torch.equal(b[k], torch.cat([r0[g][k], r1[g][k]]))


def test_unpacked_sequences_and_seq_len(shards, tok):
    batches = load(shards / "a", tok, packing=False, batch_size=4, pad_to_seq_len=False, seq_len=64)
    n_seq = sum(len(b["input_tokens"]) for b in batches)
    assert n_seq == 8 * 6  # every conversation is its own sequence
    assert all("subsegment_ids" not in b for b in batches)
    assert all(b["input_tokens"].shape[1] <= 64 for b in batches)


def test_held_out_split_by_image_key(shards, tok):
    keys = [f"{i:064x}" for i in range(400)]
    val = [k for k in keys if split_of(k, 0.25, seed=3) == "val"]
    assert 60 < len(val) < 140 and val == [k for k in keys if split_of(k, 0.25, seed=3) == "val"]
    tr = load(shards / "a", tok, split="train", val_fraction=0.5, with_meta=True, batch_size=1)
    va = load(shards / "a", tok, split="val", val_fraction=0.5, with_meta=True, batch_size=1)
    k_tr = {m[0][0].meta["key"] for b in tr for m in [b["meta"]]}
    k_va = {m[0][0].meta["key"] for b in va for m in [b["meta"]]}
    assert k_tr and k_va and not (k_tr & k_va) and len(k_tr | k_va) == 8


def test_eval_mode_yields_prompts_with_ground_truth(shards, tok):
    ex_cfg = ExampleConfig(for_training=False)
    batches = load(shards / "a", tok, packing=False, with_meta=True, examples=ex_cfg, batch_size=6,
                   pad_to_seq_len=False)
    metas = [m[0] for b in batches for m in b["meta"]]
    assert len(metas) == 8 * 6
    clocks = [m for m in metas if m.style == "clocks"]
    assert len(clocks) == 8 and clocks[0].meta["hour"] == 19 and clocks[0].answer.startswith("The time shown is")
    for b in batches:  # inference sequences end with the prompt: the last loss mask is -1
        lengths = (b["input_tokens"] != -1).sum(1)
        assert (b["loss_masks"][torch.arange(len(lengths)), lengths - 1] == -1).all()


def test_mixture_source(shards, tok):
    mix = MixtureConfig([MixtureSource("a", str(shards / "a"), style="point_count"),
                         MixtureSource("b", str(shards / "b"))])
    batches = load(mix, tok, max_samples=10, with_meta=True, batch_size=5,
                   examples=ExampleConfig.pretraining())
    subsets = [e.subset for b in batches for m in b["meta"] for e in m]
    assert len(batches) == 2 and "pixmo-cap" in subsets and "pixmo-points" in subsets
    styles = {e.style for b in batches for m in b["meta"] for e in m if e.subset == "pixmo-points"}
    assert styles == {"point_count"}
    again = load(mix, tok, max_samples=10, batch_size=5, examples=ExampleConfig.pretraining())
    assert all(same(a, {k: v for k, v in b.items() if k != "meta"}) for a, b in zip(again, batches, strict=True))


def test_shuffle_buffer_is_seeded(shards, tok):
    a = load(shards / "a", tok, shuffle_buffer=4, seed=1, with_meta=True, batch_size=8)
    b = load(shards / "a", tok, shuffle_buffer=4, seed=1, with_meta=True, batch_size=8)
    c = load(shards / "a", tok, shuffle_buffer=4, seed=2, with_meta=True, batch_size=8)
    order = [[m[0].meta["key"] for m in x[0]["meta"]] for x in (a, b, c)]
    assert order[0] == order[1] and sorted(order[0]) == sorted(order[2])
    assert np.any(np.array(order[0]) != np.array(order[2]))
