"""model/train_config.py and model/config_io.py: every TrainConfig setting (nested ones too) reachable from
`--set` and from a YAML file, with one `error:` line and exit 2 for a bad key or value."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from model.cli import app
from model.config_io import field_types, to_data
from model.train_config import TrainConfig, load_train_config

# A second valid value for string fields whose values are a fixed set; other strings take "x".
OTHER_STRING = {"model": "molmo2-tiny", "tokenizer": "x", "data": "synthetic", "precision": "bf16",
                "parallel": "ddp", "activation_checkpointing": "vit", "example_style": "style",
                "implementation": "fused", "base_dtype": "fp32", "act": "gelu", "pad_embed": "none",
                "qk_norm_type": "per_head", "family": "molmo2", "ft_embedding": "all"}
# Settings that only make sense together: set with their companion.
COMPANION = {"model.llm.moe_experts": "model.llm.moe_top_k=1", "model.llm.moe_top_k": "model.llm.moe_experts=4"}
OTHER_NONE = {"stop_after": 3, "rope_scaling": {"rope_type": "linear", "factor": 2.0}, "rope_scaling_layers": [0]}


def _leaves(cls: type, value: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, annotation, current value) of every non-dataclass field under `cls`."""
    out = []
    for name, tp in field_types(cls).items():
        cur = value.get(name) if isinstance(value, dict) else None
        sub = next((t for t in typing.get_args(tp) or (tp,) if dataclasses.is_dataclass(t)), None)
        if sub is not None:
            out += _leaves(sub, cur if isinstance(cur, dict) else to_data(sub()), f"{prefix}{name}.")
            if name in ("model", "lora"):  # a preset name, None: settable whole too
                out.append((f"{prefix}{name}", tp, cur))
        else:
            out.append((f"{prefix}{name}", tp, cur))
    return out


def _candidates(key: str, tp: Any, cur: Any) -> list[Any]:
    name = key.split(".")[-1]
    if key == "model":
        return [OTHER_STRING["model"]]
    if cur is None:
        return [OTHER_NONE.get(name, "x")] if key != "lora" else [{"rank": 4}]
    if isinstance(cur, bool):
        return [not cur]
    if isinstance(cur, int):
        return [c for c in (cur * 2, cur + 1, cur - 1, 1, 2) if c != cur]
    if isinstance(cur, float):
        return [cur / 2, cur * 2, 0.5]
    if isinstance(cur, str):
        return [OTHER_STRING.get(name, "x")]
    if isinstance(cur, list) and not cur:
        return [["a/b", "c"]]
    if isinstance(cur, list):
        if isinstance(cur[0], str):
            return [cur[:1]]
        return [list(reversed(cur)), [c * 2 for c in cur], [c / 2 for c in cur], [0] * len(cur)]
    if isinstance(cur, dict):
        return [None]
    raise AssertionError(f"no candidate for {key} {tp} {cur!r}")


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _get(cfg: TrainConfig, key: str) -> Any:
    data: Any = to_data(cfg)
    for part in key.split("."):
        data = data[part]
    return data


def _nested(key: str, value: Any) -> dict[str, Any]:
    head, _, rest = key.partition(".")
    return {head: _nested(rest, value) if rest else value}


def test_every_train_config_field_is_settable_with_set_and_yaml(tmp_path):
    base = to_data(TrainConfig())
    base["model"] = to_data(TrainConfig().model_config())  # the tiny preset, expanded: model.* leaves
    leaves = _leaves(TrainConfig, base)
    assert {"seq_len", "optim.llm_lr", "lora.rank", "model.llm.n_heads", "model.vision.act",
            "model.connector.pool_heads", "model.image_tokens.frame_end"} <= {k for k, _, _ in leaves}
    unset = []
    for key, tp, cur in leaves:
        for want in _candidates(key, tp, cur):
            try:
                sets = [f"{key}={_text(want)}"]
                got = load_train_config([], sets + ([COMPANION[key]] if key in COMPANION else []))
            except ValueError:
                continue  # this candidate breaks an invariant; try the next
            value = _get(got, key)
            if value == cur:
                continue
            path = tmp_path / f"{key}.yaml"
            data = _nested(key, want)
            if key in COMPANION:
                data["model"]["llm"].update(yaml.safe_load(COMPANION[key].split(".")[-1].replace("=", ": ")))
            path.write_text(yaml.safe_dump(data))
            assert _get(load_train_config([str(path)], []), key) == value, key  # YAML gives the same
            break
        else:
            unset.append(key)
    assert not unset, f"not settable: {unset}"


def test_set_parses_values_by_the_field_type():
    cfg = load_train_config(["tiny"], ["optim.llm_lr=1e-3", "optim.betas=0.9,0.99", "train_shards=a,b",
                                       "stop_after=none", "activation_checkpointing=true", "lora.rank=4",
                                       "model.llm.n_layers=2", "out_dir=123"])
    assert cfg.optim.llm_lr == 1e-3 and cfg.optim.betas == (0.9, 0.99) and cfg.train_shards == ["a", "b"]
    assert cfg.stop_after is None and cfg.activation_checkpointing is True and cfg.out_dir == "123"
    assert cfg.lora is not None and cfg.lora.rank == 4 and cfg.lora.alpha == 16.0  # other LoRA fields: defaults
    mcfg = cfg.model_config()
    assert mcfg.llm.n_layers == 2 and mcfg.llm.d_model == 128  # the rest of the tiny preset is kept
    assert cfg.seq_len == 384  # from model/configs/tiny.json


def test_later_files_and_sets_override_earlier_ones(tmp_path):
    over = tmp_path / "over.yaml"
    over.write_text("seq_len: 64\noptim:\n  llm_lr: 0.5\nmodel:\n  llm:\n    n_layers: 1\n")
    cfg = load_train_config(["tiny", str(over)], ["seq_len=32"])
    assert cfg.seq_len == 32 and cfg.optim.llm_lr == 0.5 and cfg.optim.vit_lr == 1e-3  # merged key by key
    assert cfg.model_config().llm.n_layers == 1 and cfg.model_config().llm.d_model == 128


@pytest.mark.parametrize("args, words", [
    (["--set", "sequence_length=3"], "unknown setting 'sequence_length'"),
    (["--set", "optim.nope=1"], "unknown setting 'optim.nope'"),
    (["--set", "seq_len=abc"], "seq_len: expected an integer"),
    (["--set", "seq_len=0"], "seq_len must be >= 1"),
    (["--set", "precision=fp8"], "precision must be one of"),
    (["--set", "model.llm.n_heads=5"], "n_heads (5)"),
    (["--set", "seq_len"], "KEY=VALUE"),
    (["--set", "seq_len.x=1"], "not a nested config"),
    (["--config", "no_such_config"], "no_such_config not found"),
])
def test_bad_key_or_value_is_one_error_line_and_exit_2(args, words, tmp_path):
    res = CliRunner().invoke(app, ["train", *args, "--set", f"out_dir={tmp_path}"])
    lines = res.output.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), res.output
    assert words in lines[0]
    assert not any(tmp_path.iterdir())  # nothing trained


def test_bad_yaml_file_is_one_error_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  llm_lr: [1, 2]\n")
    res = CliRunner().invoke(app, ["train", "--config", str(bad)])
    assert res.exit_code == 2 and res.output.strip() == "error: optim.llm_lr: expected a number, got [1, 2]"


def test_train_cli_runs_with_sets_and_saves_them(tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", "--config", "tiny", "--set", "data=synthetic", "--set", "max_steps=2",
                                   "--set", f"out_dir={out}", "--set", "seq_len=64", "--set", "global_batch_size=2",
                                   "--set", "micro_batch_size=2", "--set", "tensorboard=false",
                                   "--set", "model.llm.n_layers=1", "--set", "log_every=0"])
    assert res.exit_code == 0, res.output
    import torch

    blob = torch.load(Path(json.loads(res.output[res.output.index("{"):])["checkpoint"]), weights_only=False)
    saved = TrainConfig.from_dict(blob["train_config"])
    assert saved.max_steps == 2 and saved.model_config().llm.n_layers == 1 and saved.out_dir == str(out)
