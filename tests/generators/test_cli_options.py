"""Every generator command checks its options before it writes anything: a bad value is one
``error:`` line naming it and exit status 2 (the configs validate themselves at construction)."""

from __future__ import annotations

import pytest

from generators.capqa.core import CapQAConfig
from generators.clocks.augment import AugmentConfig
from generators.clocks.generate import ClockConfig
from generators.count.detectors import OpenCVConfig
from generators.count.generate import DetectConfig, SplitConfig
from generators.count.mosaic import MosaicConfig
from generators.docs.config import DocsConfig, RenderOptions
from generators.docs.sandbox import Limits
from pixmo.cli import main

BAD = [
    (["clocks", "--num", "0"], "--num must be at least 1"),
    (["clocks", "--workers", "0"], "--workers must be at least 1"),
    (["clocks", "--per-shard", "0"], "--per-shard must be at least 1"),
    (["clocks", "--per-face", "0"], "examples per face must be at least 1"),
    (["clocks", "--executor", "slurm"], "--executor must be 'local' or 'ray'"),
    (["clocks", "--families", "sundial"], "unknown clock families"),
    (["docs", "--num", "0"], "--num must be at least 1"),
    (["docs", "--threads", "0"], "--threads must be at least 1"),
    (["docs", "--timeout", "-1"], "--timeout must be positive"),
    (["docs", "--workers", "0"], "--workers must be at least 1"),
    (["docs", "--per-shard", "0"], "--per-shard must be at least 1"),
    (["docs", "--mode", "magic"], "mode must be 'offline' or 'llm'"),
    (["docs", "--renderers", "powerpoint"], "unknown renderer(s) ['powerpoint']"),
    (["count", "--threshold", "2"], "--threshold must be between 0 and 1"),
    (["count", "--detector", "yolo"], "--detector 'yolo': use 'opencv' or 'hf:"),
    (["count", "--eval-per-count", "-1"], "--eval-per-count must be >= 0"),
    (["count", "--workers", "0"], "--workers must be at least 1"),
    (["count", "--mosaic", "3", "--mosaic-max", "12"], "mosaic counts 1..12 do not fit a 3x3 grid"),
    (["capqa", "--shards", ".", "--conversations", "0"], "--conversations must be at least 1"),
]


@pytest.mark.parametrize(("args", "says"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_option_is_one_error_line_and_exit_2(tmp_path, capsys, args, says):
    out = tmp_path / "out"
    assert main(["gen", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {says}") and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.parametrize(("make", "says"), [
    (lambda: ClockConfig(p_digital=1.5), "p_digital must be between 0 and 1"),
    (lambda: ClockConfig(jpeg_quality=0), "jpeg_quality must be 1 to 95"),
    (lambda: AugmentConfig(scale=(1.0, 0.3)), "scale must be a range"),
    (lambda: AugmentConfig(strip=-1), "strip and strip_pad must be >= 0"),
    (lambda: MosaicConfig(texture=2.0), "mosaic: need 0 < scale[0]"),
    (lambda: DocsConfig(attempts=0), "attempts must be at least 1"),
    (lambda: DocsConfig(renderers=()), "renderers must name at least one"),
    (lambda: RenderOptions(mem_mb=10), "mem_mb must be at least 64"),
    (lambda: Limits(timeout=0), "--timeout must be positive"),
    (lambda: OpenCVConfig(min_face=0), "need max_side >= 64 and 0 < min_face < 1"),
    (lambda: DetectConfig(max_pixels=0), "max_pixels must be positive"),
    (lambda: SplitConfig(max_per_count=-1), "--max-per-count must be >= 0"),
    (lambda: CapQAConfig(max_turns=0), "max_turns must be at least 1"),
])
def test_configs_refuse_impossible_values(make, says):
    with pytest.raises(ValueError) as exc:
        make()
    assert str(exc.value).startswith(says)
