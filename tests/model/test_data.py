"""The one data path (model.data): order split by rank and worker, exact resume, packing, mixtures, URLs."""

from __future__ import annotations

import functools
import http.server
import threading

import numpy as np
import pytest
import torch
from pixmo_samples import sample_with

from model.data import build_dataloader, split_of
from model.examples import ExampleConfig
from model.tiling import PreprocessConfig
from model.tokenizer import MolmoTokenizer
from pixmo.mixture import MixtureConfig, MixtureSource
from pixmo.shards import read_manifest, write_samples

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
    write_samples(root / "c", [sample_with(["ama"], seed=200 + i, size=(64, 48)) for i in range(14)],
                  dataset="c", max_count=2)  # 7 shards: enough for 2 ranks x 2 workers
    return root


def load(src, tok, **kw):
    kw.setdefault("seq_len", 256)
    kw.setdefault("batch_size", 2)
    return build_dataloader(src, tok, PreprocessConfig.tiny(), **kw)


def keys(batches) -> list[str]:
    return [m[0].meta["key"] for b in batches for m in b["meta"]]


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if k != "meta")


def test_batches_follow_the_contract(shards, tok):
    batches = list(load(shards / "a", tok))
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
    serial = list(load(shards / "a", tok, batch_size=3, shuffle=True, shuffle_in_shard=True))
    parallel = list(load(shards / "a", tok, batch_size=3, shuffle=True, shuffle_in_shard=True, num_workers=2))
    assert len(serial) == len(parallel) == 3
    assert all(same(a, b) for a, b in zip(serial, parallel, strict=True))


def test_two_ranks_two_workers_see_disjoint_samples_covering_the_epoch(shards, tok):
    seen = {}
    for rank in (0, 1):
        loader = load(shards / "c", tok, rank=rank, world_size=2, num_workers=2, shuffle=True, with_meta=True,
                      packing=False, examples=ExampleConfig(for_training=False))
        seen[rank] = keys(loader)
    every = {k for s in read_manifest(shards / "c")["shards"] for k in _shard_keys(shards / "c", s["name"])}
    assert seen[0] and seen[1] and not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == sorted(every)  # each sample exactly once in the epoch


def _shard_keys(d, name) -> list[str]:
    from pixmo.shards import iter_raw

    return [k for k, _ in iter_raw(d / name)]


@pytest.mark.parametrize(("workers", "in_shard"), [((0, 2), True), ((2, 1), False)])
def test_resume_mid_epoch_continues_at_the_next_sequence(shards, tok, workers, in_shard):
    """Stopped after 5 batches (mid-sample: the packer carries conversations over), resumed from the state
    with another worker count: the rest equals the uninterrupted run, and nothing is read twice."""
    kw = dict(seq_len=80, batch_size=3, shuffle=True, shuffle_in_shard=in_shard, epochs=2, with_meta=True, seed=4)
    straight = list(load(shards / "a", tok, num_workers=workers[0], **kw))
    first = load(shards / "a", tok, num_workers=workers[0], **kw)
    head = [b for _, b in zip(range(5), first, strict=False)]
    state = first.state
    assert state["skip"] > 0  # stopped inside a sample: its remaining sequences are the packer's buffer
    second = load(shards / "a", tok, num_workers=workers[1], **kw)
    second.set_state(state)
    tail = list(second)
    assert len(head) + len(tail) == len(straight)
    assert all(same(a, b) for a, b in zip(head + tail, straight, strict=True))
    assert [[e.messages for e in m] for b in head + tail for m in b["meta"]] == \
        [[e.messages for e in m] for b in straight for m in b["meta"]]


def test_packing_keeps_every_conversation(shards, tok):
    """Conversations that do not fit seq_len start the next sequence of the same image (none dropped)."""
    eval_cfg = ExampleConfig(for_training=False)
    n_conv = sum(len(b["meta"]) for b in load(shards / "a", tok, packing=False, with_meta=True, examples=eval_cfg))
    packed = list(load(shards / "a", tok, seq_len=80, with_meta=True))
    assert sum(len(m) for b in packed for m in b["meta"]) == n_conv == 8 * 6
    assert sum(len(b["meta"]) for b in packed) > 8  # some images needed more than one sequence


def test_state_of_other_data_or_rank_is_refused(shards, tok):
    a = load(shards / "a", tok)
    next(iter(a))
    with pytest.raises(ValueError, match="other shards"):
        load(shards / "b", tok).set_state(a.state)
    with pytest.raises(ValueError, match="rank 0 of 1"):
        load(shards / "a", tok, rank=1, world_size=2).set_state(a.state)


def test_unpacked_sequences_and_seq_len(shards, tok):
    batches = list(load(shards / "a", tok, packing=False, batch_size=4, pad_to_seq_len=False, seq_len=64))
    n_seq = sum(len(b["input_tokens"]) for b in batches)
    assert n_seq == 8 * 6  # every conversation is its own sequence
    assert all("subsegment_ids" not in b for b in batches)
    assert all(b["input_tokens"].shape[1] <= 64 for b in batches)


def test_held_out_split_by_image_key(shards, tok):
    ks = [f"{i:064x}" for i in range(400)]
    val = [k for k in ks if split_of(k, 0.25, seed=3) == "val"]
    assert 60 < len(val) < 140 and val == [k for k in ks if split_of(k, 0.25, seed=3) == "val"]
    tr = keys(load(shards / "a", tok, split="train", val_fraction=0.5, with_meta=True, batch_size=1))
    va = keys(load(shards / "a", tok, split="val", val_fraction=0.5, with_meta=True, batch_size=1))
    assert tr and va and not (set(tr) & set(va)) and len(set(tr) | set(va)) == 8


def test_eval_mode_yields_prompts_with_ground_truth(shards, tok):
    ex_cfg = ExampleConfig(for_training=False)
    batches = list(load(shards / "a", tok, packing=False, with_meta=True, examples=ex_cfg, batch_size=6,
                        pad_to_seq_len=False))
    metas = [m[0] for b in batches for m in b["meta"]]
    assert len(metas) == 8 * 6
    clocks = [m for m in metas if m.style == "clocks"]
    assert len(clocks) == 8 and clocks[0].meta["hour"] == 19 and clocks[0].answer.startswith("The time shown is")
    for b in batches:  # inference sequences end with the prompt: the last loss mask is -1
        lengths = (b["input_tokens"] != -1).sum(1)
        assert (b["loss_masks"][torch.arange(len(lengths)), lengths - 1] == -1).all()


def test_mixture_streams_sources_at_their_rates(shards, tok):
    mix = MixtureConfig([MixtureSource("a", str(shards / "a"), style="point_count", rate=0.25),
                         MixtureSource("b", str(shards / "b"), rate=0.75)])
    kw = dict(max_samples=40, with_meta=True, batch_size=5, examples=ExampleConfig.pretraining(), seq_len=512)
    batches = list(load(mix, tok, **kw))
    subsets = [m[0].subset for b in batches for m in b["meta"]]
    assert len(subsets) == 40 and 20 <= subsets.count("pixmo-cap") <= 38  # rate 0.75 of 40 draws
    styles = {e.style for b in batches for m in b["meta"] for e in m if e.subset == "pixmo-points"}
    assert styles == {"point_count"}
    again = load(mix, tok, num_workers=2, **kw)
    assert all(same(a, b) for a, b in zip(again, batches, strict=True))


def test_shuffle_is_seeded(shards, tok):
    order = [keys(load(shards / "a", tok, shuffle=True, shuffle_in_shard=True, seed=s, with_meta=True, batch_size=8))
             for s in (1, 1, 2)]
    assert order[0] == order[1] and sorted(order[0]) == sorted(order[2])
    assert np.any(np.array(order[0]) != np.array(order[2]))


def test_fsspec_http_shards_stream_like_local_ones(shards, tok):
    """Shards behind an HTTP server (fsspec's http filesystem) give the batches of the local copy."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(shards))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        pytest.importorskip("aiohttp", reason="fsspec's http filesystem needs aiohttp")
        url = f"http://127.0.0.1:{server.server_address[1]}/a"
        remote = list(load(url, tok, num_workers=2))
    finally:
        server.shutdown()
    local = list(load(shards / "a", tok))
    assert all(same(a, b) for a, b in zip(remote, local, strict=True)) and len(remote) == len(local)


def test_fsspec_url_shards_are_streamed_without_a_local_copy(shards, tok):
    """Any fsspec URL is opened with ``fsspec.open`` (here the in-memory filesystem, which forked workers
    inherit): manifest and shards are read from the URL, and the batches equal the local ones."""
    import fsspec

    fs = fsspec.filesystem("memory")
    for p in sorted((shards / "a").iterdir()):
        fs.pipe(f"/i22/a/{p.name}", p.read_bytes())
    remote = list(load("memory://i22/a", tok, num_workers=2))
    local = list(load(shards / "a", tok))
    assert len(remote) == len(local) and all(same(a, b) for a, b in zip(remote, local, strict=True))


def test_training_reads_a_mixture_file_through_the_same_loader(shards, tmp_path):
    """`train_shards: ["mix.json"]` streams the mixture with its rates; the source keeps the loader state."""
    import json

    from model.data.source import build_sources
    from model.train import TrainConfig

    mix = MixtureConfig([MixtureSource("a", str(shards / "a"), rate=0.5), MixtureSource("b", str(shards / "b"),
                                                                                        rate=0.5)])
    (tmp_path / "mix.json").write_text(json.dumps(mix.to_json()))
    cfg = TrainConfig(train_shards=[str(tmp_path / "mix.json")], holdout_fraction=0.0, seq_len=256,
                      global_batch_size=4, micro_batch_size=2)
    source, eval_spec = build_sources(cfg)
    mbs = source.batches(0)
    assert eval_spec is None and len(mbs) == 2 and all(b["input_tokens"].shape[0] == 2 for b in mbs)
    assert source.state["sample"] >= 4 and len(source.state["sources"]) == 2
    source.close()


def test_s3_shards_stream_from_a_local_s3_server_like_local_ones(shards, tok, s3_bucket):
    """`s3://` shard sets (s3fs) against moto's standalone S3 server on 127.0.0.1: the manifest and the
    shards are read from the bucket by two workers, and the batches equal the local copy's."""
    for p in sorted((shards / "a").iterdir()):
        s3_bucket(f"sets/a/{p.name}", p.read_bytes())
    remote = list(load("s3://pixmo/sets/a", tok, num_workers=2))
    local = list(load(shards / "a", tok))
    assert len(remote) == len(local) and all(same(a, b) for a, b in zip(remote, local, strict=True))
