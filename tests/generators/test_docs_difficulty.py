"""The difficulty mix: levels drawn in proportion, data size and question types per level, the
level recorded per record; ``medium`` (and no mix) is the pipeline as it was."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from generators.docs import templates
from generators.docs.config import DocsConfig, load_personas
from generators.docs.data import GraphData, TableData
from generators.docs.difficulty import parse_mix
from generators.docs.llm_stages import with_level
from generators.docs.pipeline import offline_content, plan_job
from generators.docs.report import qa_type
from pixmo.cli import main
from pixmo.shards import iter_samples

MIX = parse_mix("easy=0.3,medium=0.5,hard=0.2")
N = 900


def _plan(cfg: DocsConfig, n: int = N):
    personas = load_personas()
    out = []
    for i in range(n):
        job = plan_job(cfg, personas, 0, i)
        data = offline_content(job, np.random.default_rng([0, i, 1, 0]))
        out.append((job, data))
    return out


def _size(data) -> int:
    if isinstance(data, GraphData):
        return len(data.nodes)
    return len((data if isinstance(data, TableData) else data.items).rows)


def test_levels_follow_the_mix_and_set_data_size_and_question_types():
    planned = _plan(DocsConfig(difficulty_mix=MIX))
    share = Counter(j.difficulty for j, _ in planned)
    for level, w in MIX:
        assert abs(share[level] / N - w) < 0.05, share
    sizes = {
        lv: [_size(d) for j, d in planned if j.difficulty == lv
            and (j.renderer, j.figure_type) not in templates.OWN_CONTENT]
        for lv, _ in MIX
    }
    assert max(sizes["easy"]) <= 5 and min(sizes["hard"]) >= 4
    assert np.mean(sizes["easy"]) < np.mean(sizes["medium"]) < np.mean(sizes["hard"])
    for job, _ in planned:
        types = {qa_type(q, a) for q, a, _ in job.qa}
        if job.difficulty == "easy":
            assert not types & {"difference", "comparison", "multiple choice"}, job.qa
        if job.difficulty == "hard":
            assert not types & {"title", "kind"}
        assert len(job.qa) >= 5


def test_medium_only_is_the_pipeline_without_a_mix():
    plain = _plan(DocsConfig(), 120)
    medium = _plan(DocsConfig(difficulty_mix=(("medium", 1.0),)), 120)
    for (a, da), (b, db) in zip(plain, medium, strict=True):
        assert a.difficulty == "" and b.difficulty == "medium"
        assert (a.code, a.data, a.qa, a.topic, da) == (b.code, b.data, b.qa, b.topic, db)
        assert replace(a, difficulty="medium") == b


def test_llm_prompts_carry_the_level_and_no_mix_leaves_them_as_they_were():
    assert with_level("Write data.", "", "data_hint") == "Write data."
    assert with_level("Write data.", "medium", "data_hint") == "Write data."
    assert "3 or 4 rows" in with_level("Write data.", "easy", "data_hint")
    assert "multi-step" in with_level("Write QA.", "hard", "qa_hint")


def test_each_record_says_its_level_and_a_bad_mix_is_one_line(tmp_path, capsys):
    out = tmp_path / "docs"
    assert main(["gen", "docs", "--num", "3", "--out", str(out), "--renderers", "html", "--per-shard", "3",
                 "--difficulty-mix", "easy=1,hard=1"]) == 0
    levels = [s.annotations[0].meta["difficulty"] for s in iter_samples(out)]
    assert len(levels) == 3 and set(levels) <= {"easy", "hard"}
    capsys.readouterr()
    assert main(["gen", "docs", "--num", "3", "--out", str(tmp_path / "x"), "--difficulty-mix", "tricky=1"]) == 2
    err = capsys.readouterr().err
    assert "unknown level 'tricky'" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("text", ["easy", "easy=-1", "easy=0,hard=0", "easy=1,easy=2"])
def test_bad_mixes_are_refused(text):
    with pytest.raises(ValueError, match="difficulty mix"):
        parse_mix(text)
