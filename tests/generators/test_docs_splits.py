"""`pixmo gen docs --split`: train, validation and test share no persona and no topic (title)."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
from typer.testing import CliRunner

from generators.cli import app
from generators.docs.config import DocsConfig, load_personas
from generators.docs.pipeline import offline_content, plan_job
from generators.docs.splits import SPLITS, assign, orgs_for, personas_for, split_seed
from pixmo.shards import iter_samples

N = 600


def _plan(split: str):
    cfg, seed = DocsConfig(split=split), split_seed(0, split)
    personas = personas_for(load_personas(), split)
    jobs = []
    for i in range(N):
        job = plan_job(cfg, personas, seed, i)
        offline_content(job, np.random.default_rng([seed, i, 1, 0]))
        jobs.append(job)
    return jobs


def test_splits_share_no_persona_and_no_topic():
    planned = {s: _plan(s) for s in SPLITS}
    personas = {s: {j.persona for j in jobs} for s, jobs in planned.items()}
    topics = {s: {j.topic for j in jobs} for s, jobs in planned.items()}
    for a, b in combinations(SPLITS, 2):
        assert not personas[a] & personas[b], (a, b, personas[a] & personas[b])
        assert not topics[a] & topics[b], (a, b, sorted(topics[a] & topics[b])[:3])
    # every persona is used by exactly one split, each split has some, and topics stay varied
    assert set().union(*personas.values()) == {p.persona for p in load_personas()}
    assert all(len(personas[s]) >= 3 for s in SPLITS)
    assert all(len(topics[s]) >= 0.8 * N for s in SPLITS), {s: len(t) for s, t in topics.items()}
    # all four categories in every split
    assert all({j.category for j in planned[s]} == {"charts", "tables", "diagrams", "other"} for s in SPLITS)


def test_assignment_depends_only_on_the_names():
    names = [p.persona for p in load_personas()]
    assert assign(names) == assign(list(reversed(names))) == assign(names + names[:5])
    for domain in ("food", "tech"):
        parts = [set(orgs_for(domain, s)) for s in SPLITS]
        assert all(parts) and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert set().union(*parts) == set(orgs_for(domain, ""))


def test_split_seeds_differ_and_no_split_keeps_the_seed():
    assert split_seed(7, "") == 7
    assert len({split_seed(7, s) for s in SPLITS}) == 3


def test_cli_split_run_records_the_split(tmp_path):
    out = tmp_path / "test"
    res = CliRunner().invoke(app, ["docs", "--num", "2", "--out", str(out), "--renderers", "html",
                                   "--per-shard", "2", "--split", "test"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "manifest.json").read_text())["split"] == "test"
    test_personas = {p.persona for p in personas_for(load_personas(), "test")}
    samples = list(iter_samples(out, verify=True))
    assert len(samples) == 2
    for s in samples:
        (ann,) = s.annotations
        assert ann.meta["split"] == "test" and ann.meta["persona"] in test_personas
        assert ann.meta["seed"] == split_seed(0, "test")


def test_bad_split_and_too_few_personas_give_one_line(tmp_path, capsys):
    from pixmo.cli import main

    assert main(["gen", "docs", "--out", str(tmp_path / "x"), "--split", "dev"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: split must be")
    two = tmp_path / "p.jsonl"
    two.write_text('{"persona": "a baker"}\n{"persona": "a nurse"}\n')
    assert main(["gen", "docs", "--out", str(tmp_path / "y"), "--split", "test", "--personas", str(two)]) == 2
    err = capsys.readouterr().err
    assert "cannot be split three ways" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_split_titles_always_name_the_organisation():
    """Without a split a table title may leave the organisation out ("Revenue by store, 2019"), and
    such a title could then repeat across splits; in split mode every title names its organisation."""
    unnamed = 0
    for s in SPLITS:
        for job in _plan(s)[:300]:
            org_words = [o for o in orgs_for(_domain(job), s) if o in job.topic]
            assert org_words, (s, job.topic)
    for job in _plan("")[:300]:
        unnamed += not any(o in job.topic for o in orgs_for(_domain(job), ""))
    assert unnamed > 0  # the restriction is what makes the difference


def _domain(job):
    from generators.docs.bank import domain_for

    return domain_for(job.persona, job.domain, job.index).name
