"""Training loop: 2-process torchrun (gloo, FSDP2) == 1 process; exact resume; config files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("_dist_train.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "result.json").read_text())


@pytest.mark.xdist_group("torchrun")
def test_torchrun_two_gloo_processes_match_one_process(tmp_path):
    sys.path.insert(0, str(SCRIPT.parent))
    from _dist_train import make_config

    one = train(make_config(str(tmp_path / "one"), "none"))  # the baseline runs in this process
    two = _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_port", str(_free_port()), str(SCRIPT), str(tmp_path / "two"), "fsdp"], tmp_path / "two")
    assert two["world"] == 2 and two["parallel"] == "fsdp"  # FSDP2 fully_shard works on gloo
    assert one["world"] == 1
    one_losses = [h["loss"] for h in one["history"]]
    torch.testing.assert_close(torch.tensor(two["losses"]), torch.tensor(one_losses), rtol=1e-5, atol=1e-6)
    assert two["normalizer"] == 400.0  # docs/spec/molmo.md fact 20: sums 300 and 500 -> 400


@pytest.mark.xdist_group("torchrun")
@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_gradient_accumulation_reduces_on_the_last_microbatch_only(tmp_path, mode):
    """`model.train.grad_sync` (DDP no_sync, FSDP2 set_requires_gradient_sync): 3 accumulated microbatches make
    the gradient collectives of one, and the accumulated gradients equal those synced every microbatch."""
    script = SCRIPT.with_name("_dist_sync.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                           str(_free_port()), str(script), str(tmp_path), mode],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = json.loads((tmp_path / "sync.json").read_text())
    assert got["same_grads"], got
    assert got["suppressed"] == got["one_microbatch"] and got["every_microbatch"] == 3 * got["one_microbatch"], got


def _cfg(out: Path, **kw) -> TrainConfig:
    base = dict(
        data="synthetic", out_dir=str(out), seq_len=64, global_batch_size=4, micro_batch_size=2, max_steps=6,
        log_every=0, tensorboard=False,
        model={**__import__("model.config", fromlist=["get_config"]).get_config("tiny").to_dict(),
               "response_residual_dropout": 0.1, "residual_dropout": 0.05},  # RNG must be restored too
        optim={"connector_lr": 1e-3, "vit_lr": 1e-3, "llm_lr": 1e-3, "connector_warmup": 2, "vit_warmup": 2,
               "llm_warmup": 2},
    )
    return TrainConfig.from_dict(base | kw)


def test_resumed_run_reproduces_the_loss_curve_exactly(tmp_path):
    straight = train(_cfg(tmp_path / "a"))
    first = train(_cfg(tmp_path / "b", stop_after=3))
    assert len(first["history"]) == 3
    resumed = train(_cfg(tmp_path / "b"))  # picks up checkpoints/latest (step 3)
    a = [h["loss"] for h in straight["history"]]
    b = [h["loss"] for h in resumed["history"]]
    assert len(a) == len(b) == 6
    assert a == b, (a, b)  # bit-exact: model, optimizer, schedule, data position and RNG restored
    assert Path(straight["curve"]).exists()


def test_resume_on_shards_with_other_worker_count_reproduces_the_losses(tmp_path):
    """Shards through model.data: a run stopped mid-epoch at step 3 (its checkpoint holds the loader state)
    and resumed with 2 data workers instead of 0 gives the uninterrupted run's losses, bit for bit."""
    sys.path.insert(0, str(SCRIPT.parent))
    from test_train_learns import make_dot_shards

    shards = make_dot_shards(tmp_path / "dots", 40)  # one epoch is ~10 steps: step 3 is mid-epoch
    kw = dict(data="shards", train_shards=[str(shards)], holdout_fraction=0.0, seq_len=96, max_steps=6)
    straight = train(_cfg(tmp_path / "a", **kw))
    first = train(_cfg(tmp_path / "b", stop_after=3, **kw))
    blob = torch.load(first["checkpoint"], weights_only=False)
    state = blob["loader_state"][0]
    assert 0 < state["sample"] <= 3 * 4 and state["sources"][0][0] == 0  # mid-epoch (an image may span 2 sequences)
    resumed = train(_cfg(tmp_path / "b", num_workers=2, **kw))
    a = [h["loss"] for h in straight["history"]]
    assert [h["loss"] for h in resumed["history"]] == a and len(a) == 6


def test_run_killed_mid_epoch_resumes_with_the_uninterrupted_losses(tmp_path):
    """A run with 2 data workers SIGKILLed right after its step-4 checkpoint, resumed with 1 worker: the same
    losses as a run never interrupted (and the killed run's workers do not outlive it)."""
    sys.path.insert(0, str(SCRIPT.parent))
    from test_train_learns import make_dot_shards

    shards = make_dot_shards(tmp_path / "dots", 40)
    kw = dict(data="shards", train_shards=[str(shards)], holdout_fraction=0.0, seq_len=96, max_steps=6,
              save_every=2)
    straight = train(_cfg(tmp_path / "a", **kw))
    cfg_path = tmp_path / "b.json"
    cfg_path.write_text(json.dumps(_cfg(tmp_path / "b", num_workers=2, **kw).to_dict()))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT.with_name("_killed_train.py")), str(cfg_path), "4"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == -9, proc.stdout[-2000:] + proc.stderr[-2000:]
    resumed = train(_cfg(tmp_path / "b", num_workers=1, **kw))
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in straight["history"]]
    assert len(resumed["history"]) == 6


def test_train_config_files_load(tmp_path):
    cfg = TrainConfig.from_file("tiny")
    assert cfg.model_config().llm.d_model > 0 and cfg.max_steps > 0
    yaml_path = tmp_path / "c.yaml"
    yaml_path.write_text("model: tiny\nseq_len: 128\noptim:\n  llm_lr: 0.001\n  betas: [0.9, 0.99]\n")
    c = TrainConfig.from_file(yaml_path)
    assert c.seq_len == 128 and c.optim.llm_lr == 0.001 and c.optim.betas == (0.9, 0.99)
    with pytest.raises(ValueError, match="unknown TrainConfig field .sequence_length."):
        TrainConfig.from_dict({"sequence_length": 3})


@pytest.mark.parametrize("mode", ["vit", "llm", "all"])
def test_activation_checkpointing_modes_give_the_same_gradients(mode):
    from model.collate import collate
    from model.config import get_config
    from model.molmo import build_model
    from model.train import synthetic_examples

    cfg = get_config("tiny")
    batch = {k: v for k, v in collate(synthetic_examples(cfg, 3, 64, n_crops=2), 64).items()
             if isinstance(v, torch.Tensor)}
    grads = []
    for ac in (False, mode):
        model = build_model(cfg, seed=0).train()
        model.set_grad_checkpointing(ac)
        model(**batch, loss_normalizer=10.0).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    vit, llm = model.vision_backbone.image_vit.grad_checkpointing, model.transformer.grad_checkpointing
    assert (vit, llm) == {"vit": (True, False), "llm": (False, True), "all": (True, True)}[mode]
    assert grads[0].keys() == grads[1].keys()
    for n in grads[0]:
        torch.testing.assert_close(grads[1][n], grads[0][n], msg=n)
    with pytest.raises(ValueError, match="activation checkpointing must be one of"):
        model.set_grad_checkpointing("ViT")


def test_optimizer_implementation_is_validated():
    from model.optim import OptimConfig, build_optimizer

    p = torch.nn.Parameter(torch.zeros(3))
    assert build_optimizer({"llm": [("w", p)]}, OptimConfig()).defaults["foreach"]  # CPU: foreach
    with pytest.raises(ValueError, match="optim.implementation must be"):
        build_optimizer({"llm": [("w", p)]}, OptimConfig(implementation="apex"))
