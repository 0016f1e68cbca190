"""One docs run, as ``pixmo gen docs`` does it: ledger view -> config -> shards -> run-wide dedup ->
manifest -> ledger update -> report. The CLI only parses options into these calls."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path
from typing import Any

from generators.common import RunOptions
from generators.docs import ledger
from generators.docs.config import DocsConfig, RenderOptions, load_personas
from generators.docs.dedup import dedup_shards
from generators.docs.pipeline import make_shard
from generators.docs.splits import personas_for
from generators.runner import config_dict, run


def with_ledger(cfg: DocsConfig, opts: RunOptions, path: str) -> tuple[DocsConfig, frozenset[str], str]:
    """The config with the digest of the personas earlier runs used (of this run's split), those
    personas, and the run id; without a ledger the config as it is."""
    if not path:
        return cfg, frozenset(), ""
    rid = ledger.run_id(opts.out, opts.seed, config_dict(cfg))
    view = ledger.open_run(path, rid, {"out": str(Path(opts.out).resolve()), "seed": opts.seed,
                                       "split": cfg.split})
    mine = {p.persona for p in personas_for(load_personas(cfg.personas_file), cfg.split)}
    used = frozenset(view & mine)
    return dataclasses.replace(cfg, used_personas_sha256=ledger.digest(used)), used, rid


def finalize_for(cfg: DocsConfig) -> Any:
    """The run-wide near-duplicate pass, or None when both tests are off."""
    if cfg.dedup_image_bits < 0 and cfg.dedup_text <= 0:
        return None
    return partial(dedup_shards, cfg)


def run_docs(cfg: DocsConfig, opts: RunOptions, render: RenderOptions, *, mode: str = "new",
             ledger_path: str = "") -> dict[str, Any]:
    """Make the shards; with a ledger, record the personas the run's kept documents used."""
    cfg, used, rid = with_ledger(cfg, opts, ledger_path)
    summary = run(partial(make_shard, render=render, used=used), cfg, opts.tasks(), opts.out,
                  dataset="pixmo-docs", seed=opts.seed, workers=opts.workers, executor=opts.executor,
                  split=opts.split, mode=mode, finalize=finalize_for(cfg))
    if ledger_path:
        summary["ledger"] = {"path": ledger_path, "run": rid, "used_before": len(used),
                             "added": ledger.record_used(ledger_path, rid, summary["stats"].get("personas_used", {}))}
    return summary
