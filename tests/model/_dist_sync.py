"""Run by tests/model/test_train.py under torchrun: gradient reductions per step with `model.train.grad_sync`.

Counts the gradient collectives of 3 accumulated microbatches (DDP: its communication hook; FSDP2: the
reduce-scatter calls it makes through `torch.distributed`) with and without suppression, and checks the
accumulated gradients agree. Writes OUT/sync.json on rank 0.
"""

import json
import os
import sys
from contextlib import nullcontext

import torch
import torch.distributed as dist
from torch import nn

from model.train import grad_sync

CALLS = {"n": 0}


def _count_collectives() -> None:
    for name in ("reduce_scatter_tensor", "reduce_scatter_single", "reduce_scatter", "all_reduce"):
        if hasattr(dist, name):
            f = getattr(dist, name)

            def wrapped(*a, _f=f, **k):
                CALLS["n"] += 1
                return _f(*a, **k)

            setattr(dist, name, wrapped)


def build(mode: str) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 1))
    if mode == "ddp":
        from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

        ddp = nn.parallel.DistributedDataParallel(model)

        def hook(state, bucket):
            CALLS["n"] += 1
            return default_hooks.allreduce_hook(dist.group.WORLD, bucket)

        ddp.register_comm_hook(None, hook)
        return ddp
    from torch.distributed.fsdp import fully_shard

    fully_shard(model[0])
    fully_shard(model)
    return model


def step(mode: str, suppress: bool, n_micro: int = 3) -> tuple[int, list[torch.Tensor]]:
    model = build(mode)
    CALLS["n"] = 0
    torch.manual_seed(1 + dist.get_rank())
    for i in range(n_micro):
        with grad_sync(model, i == n_micro - 1) if suppress else nullcontext():
            model(torch.randn(4, 8)).sum().backward()
    grads = [p.grad.full_tensor() if hasattr(p.grad, "full_tensor") else p.grad for p in model.parameters()]
    return CALLS["n"], [g.detach().clone() for g in grads]


if __name__ == "__main__":
    out, mode = sys.argv[1], sys.argv[2]
    dist.init_process_group("gloo")
    if mode == "fsdp":
        _count_collectives()
    plain, g_plain = step(mode, suppress=False)
    synced, g_sync = step(mode, suppress=True)
    one, _ = step(mode, suppress=False, n_micro=1)
    close = all(torch.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(g_plain, g_sync, strict=True))
    if dist.get_rank() == 0:
        os.makedirs(out, exist_ok=True)
        with open(f"{out}/sync.json", "w") as f:
            json.dump({"every_microbatch": plain, "suppressed": synced, "one_microbatch": one, "same_grads": close}, f)
    dist.barrier()
    dist.destroy_process_group()
    sys.stdout.flush()
    os._exit(0)
