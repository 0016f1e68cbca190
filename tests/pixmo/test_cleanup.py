"""pixmo.cleanup: rule-based cleanup and the LLM path through the local OpenAI-compatible server."""

from __future__ import annotations

import pytest

from pixmo import cleanup
from pixmo.llm import LLMError, LLMSettings
from pixmo.testing import Reply, serve


@pytest.mark.parametrize("raw,clean", [
    ("um so this is a a photo of uh a red car.", "This is a photo of a red car."),
    ("the car is parked on the left on the left of the street", "The car is parked on the left of the street."),
    ("i think there are, you know, two people. i'm not sure", "I think there are two people. I'm not sure."),
    ("The sign says, um, OPEN.", "The sign says OPEN."),
    ("okay so, uh, hmm.", ""),
])
def test_rule_cleanup(raw, clean):
    assert cleanup.rule_cleanup(raw) == clean


def test_rules_path_is_labelled_and_keeps_longest(monkeypatch):
    monkeypatch.delenv("PIXMO_LLM_BASE_URL", raising=False)
    res = cleanup.clean_caption(["uh a dog", "um a brown dog is is sitting on grass"])
    assert res.method == "rules" and res.provenance["method"] == "rules"
    assert "rule-based" in res.provenance["note"] and res.provenance["n_transcripts"] == 2
    assert res.caption == "A brown dog is sitting on grass."
    with pytest.raises(ValueError, match="no transcript"):
        cleanup.clean_caption(["  "])


def test_llm_summarises_several_transcripts_with_provenance(tmp_path):
    with serve(["A brown dog sits on green grass next to a red ball."]) as srv:
        settings = LLMSettings.tiny(srv.base_url, model="fake-cleaner", cache_dir=str(tmp_path))
        res = cleanup.clean_caption(["uh a dog on grass", "a brown dog um and a red ball"], settings=settings)
        assert res.method == "llm" and res.caption.startswith("A brown dog")
        p = res.provenance
        assert p["endpoint"] == srv.base_url and p["model"] == "fake-cleaner"
        assert p["prompt_version"] == cleanup.PROMPT_VERSION and len(p["prompt_sha256"]) == 16
        user = srv.chat_requests()[0]["messages"][-1]["content"]
        assert "2 people described" in user and "Transcript 2" in user and "red ball" in user


def test_llm_bad_reply_is_retried_then_fails_loudly(tmp_path):
    with serve([Reply(content="ok"), "A cat sleeps on a blue sofa."]) as srv:
        settings = LLMSettings.tiny(srv.base_url, cache_dir="")
        assert cleanup.clean_caption(["a cat on a sofa"], settings=settings).caption == "A cat sleeps on a blue sofa."
        assert len(srv.chat_requests()) == 2
    with serve([Reply(status=500)]) as srv:
        settings = LLMSettings.tiny(srv.base_url, cache_dir="", max_retries=1)
        with pytest.raises(LLMError):
            cleanup.clean_caption(["a cat"], settings=settings)
