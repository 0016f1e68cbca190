"""Run by tests/model/test_train.py: train on shards with 2 data workers and SIGKILL this process right after
the checkpoint of step KILL_AT is written (mid-epoch, workers and prefetch thread running)."""

import os
import signal
import sys

import model.train as train_mod
from model.train import TrainConfig

if __name__ == "__main__":
    cfg_json, kill_at = sys.argv[1], int(sys.argv[2])
    save = train_mod.save_checkpoint

    def save_then_die(out_dir, model, optimizer, step, extra=None):
        path = save(out_dir, model, optimizer, step, extra)
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return path

    train_mod.save_checkpoint = save_then_die
    train_mod.train(TrainConfig.from_file(cfg_json))
    sys.exit("not killed")
