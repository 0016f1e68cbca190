"""CapQA end to end: pixmo-cap shards in, pixmo-cap-qa shards out, through the fake LLM server."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from generators.capqa.core import parse_conversations, to_record
from pixmo.records import PixmoCap
from pixmo.shards import Annotation, Sample, iter_samples, write_samples
from pixmo.testing import serve
from tests.conftest import png_bytes

REPLY = """USER: What colour is the mug?
ASSISTANT: The mug is a deep
blue with a white rim.
USER: Is it full?
ASSISTANT: Yes, it is filled with coffee.
---
USER: How many spoons are there?
ASSISTANT: There are two spoons.
---
USER: this one never gets an answer
"""


def test_parse_conversations_keeps_only_well_formed_ones():
    convos = parse_conversations(REPLY)
    assert convos == [[("What colour is the mug?", "The mug is a deep blue with a white rim."),
                       ("Is it full?", "Yes, it is filled with coffee.")],
                      [("How many spoons are there?", "There are two spoons.")]]
    with pytest.raises(ValueError, match="alternating"):
        parse_conversations("ASSISTANT: hi\nUSER: hello")


def test_record_format_is_the_published_one():
    rec = to_record("http://x/1.jpg", parse_conversations(REPLY)[0])
    assert rec.question == ("[USER] What colour is the mug? [ASSISTANT] The mug is a deep blue with a white rim. "
                            "[USER] Is it full? [ASSISTANT]")
    assert rec.answer == "Yes, it is filled with coffee."
    assert rec.turns()[-1] == ("assistant", rec.answer)


@pytest.fixture
def cap_shards(tmp_path):
    rng = np.random.default_rng(0)
    samples = []
    for i in range(3):
        img = png_bytes(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
        cap = PixmoCap(image_url=f"http://example.com/{i}.png", caption=f"A blue mug number {i} on a table.",
                       transcripts=["a blue mug"])
        samples.append(Sample(image=img, annotations=[Annotation.of(cap)], image_url=cap.image_url))
    write_samples(tmp_path / "cap", samples, dataset="pixmo-cap")
    return tmp_path / "cap"


def test_capqa_cli_end_to_end(cap_shards, tmp_path, monkeypatch):
    from generators.cli import app

    with serve(["not a dialogue", REPLY]) as srv:  # the first reply fails the format check -> retried
        monkeypatch.setenv("PIXMO_LLM_BASE_URL", srv.base_url)
        monkeypatch.setenv("PIXMO_LLM_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv("PIXMO_LLM_BACKOFF", "0")
        res = CliRunner().invoke(app, ["capqa", "--shards", str(cap_shards), "--out", str(tmp_path / "qa")])
        assert res.exit_code == 0, res.output
        assert len(srv.chat_requests()) == 4  # 3 captions + 1 retry
        assert "A blue mug number" in srv.chat_requests()[0]["messages"][0]["content"]
    out = list(iter_samples(tmp_path / "qa", verify=True))
    assert len(out) == 3
    src = {s.key: s for s in iter_samples(cap_shards)}
    for s in out:
        assert s.key in src and s.image == src[s.key].image
        assert [a.subset for a in s.annotations] == ["pixmo-cap-qa"] * 2
        assert s.annotations[0].record.question.startswith("[USER]")
        assert s.annotations[0].record.image_url == src[s.key].image_url
        assert s.annotations[0].meta["provenance"]["endpoint"] == srv.base_url
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["records"] == 6 and summary["failed"] == 0


def test_capqa_without_endpoint_is_unavailable(cap_shards, tmp_path, monkeypatch):
    from generators.cli import app

    monkeypatch.delenv("PIXMO_LLM_BASE_URL", raising=False)
    res = CliRunner().invoke(app, ["capqa", "--shards", str(cap_shards), "--out", str(tmp_path / "qa")])
    assert res.exit_code == 3
    assert "CapQA is unavailable" in res.output and "PIXMO_LLM_BASE_URL" in res.output
    assert not (tmp_path / "qa").exists()
