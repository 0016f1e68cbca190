"""The shared LLM client against the local OpenAI-compatible test server."""

from __future__ import annotations

import json
import threading
import time

import pytest

from pixmo.llm import LLMClient, LLMError, LLMSettings, LLMUnavailable, get_client
from pixmo.testing import Reply, scripted, serve


@pytest.fixture
def settings(tmp_path):
    def make(base_url: str, **kw):
        kw.setdefault("cache_dir", str(tmp_path / "cache"))
        return LLMSettings.tiny(base_url, **kw)
    return make


def test_no_endpoint_is_unavailable(monkeypatch):
    monkeypatch.delenv("PIXMO_LLM_BASE_URL", raising=False)
    with pytest.raises(LLMUnavailable, match="PIXMO_LLM_BASE_URL"):
        get_client()


def test_settings_from_env(monkeypatch):
    monkeypatch.setenv("PIXMO_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("PIXMO_LLM_MODELS", json.dumps({"code": "big-model"}))
    monkeypatch.setenv("PIXMO_LLM_TIMEOUT", "7.5")
    s = LLMSettings()
    assert s.base_url == "http://127.0.0.1:9/v1"
    assert s.model_for("code") == "big-model" and s.model_for("qa") == s.model
    assert s.timeout == 7.5


def test_chat_provenance_accounting_and_cache(settings):
    with serve("hello there") as srv:
        s = settings(srv.base_url, models={"qa": "qa-model"},
                     price_in={"qa-model": 1.0}, price_out={"qa-model": 2.0})
        client = LLMClient(s)
        r = client.chat("say hi", stage="qa", prompt_version="qa-v3", temperature=0.5)
        assert r.text == "hello there" and not r.cached
        assert r.provenance() == {"endpoint": srv.base_url, "model": "qa-model", "stage": "qa",
                                  "prompt_version": "qa-v3", "cached": False}
        assert r.prompt_tokens == 2 and r.completion_tokens == 2
        assert r.cost_usd == pytest.approx((2 * 1.0 + 2 * 2.0) / 1e6)
        sent = srv.chat_requests()[0]
        assert sent["model"] == "qa-model" and sent["temperature"] == 0.5
        # a rerun (new client, same cache) costs nothing and sends nothing
        again = LLMClient(s).chat("say hi", stage="qa", prompt_version="qa-v3", temperature=0.5)
        assert again.cached and again.text == "hello there" and again.cost_usd == 0
        assert len(srv.chat_requests()) == 1
        # other params -> another key
        LLMClient(s).chat("say hi", stage="qa", temperature=0.9)
        assert len(srv.chat_requests()) == 2
    u = client.usage()["total"]
    assert u["requests"] == 1 and u["prompt_tokens"] == 2 and u["cost_usd"] > 0


def test_validation_failure_retries_with_the_error(settings):
    with serve(["not a number", "42"]) as srv:
        r = LLMClient(settings(srv.base_url)).chat("a number please", validate=int)
        assert r.parsed == 42 and r.attempts == 2
        second = srv.chat_requests()[1]["messages"]
        assert second[-2] == {"role": "assistant", "content": "not a number"}
        assert "rejected" in second[-1]["content"] and "invalid literal" in second[-1]["content"]


def test_http_errors_retry_then_give_up(settings):
    with serve([Reply(status=500), Reply(status=429), "ok"]) as srv:
        r = LLMClient(settings(srv.base_url)).chat("x")
        assert r.text == "ok" and r.attempts == 3
    with serve(scripted([Reply(status=500, error="boom")])) as srv:
        client = LLMClient(settings(srv.base_url, max_retries=2))
        with pytest.raises(LLMError) as err:
            client.chat("never answered")
        assert len(err.value.errors) == 3 and len(srv.chat_requests()) == 3
        assert client.usage()["total"]["failed"] == 1


def test_timeout_is_retried(settings):
    with serve([Reply("late", delay=1.5), "fast"]) as srv:
        r = LLMClient(settings(srv.base_url, timeout=0.5, cache_dir=None)).chat("x")
        assert r.text == "fast" and r.attempts == 2


def test_backoff_grows_exponentially(settings):
    with serve([Reply(status=503)] * 3 + ["ok"]) as srv:
        t0 = time.monotonic()
        LLMClient(settings(srv.base_url, backoff=0.05)).chat("x")
        assert time.monotonic() - t0 >= 0.05 + 0.1 + 0.2


def test_concurrency_is_bounded(settings):
    live, peak, lock = [0], [0], threading.Lock()

    def slow(_req):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.1)
        with lock:
            live[0] -= 1
        return "done"

    with serve(slow) as srv:
        client = LLMClient(settings(srv.base_url, concurrency=2, cache_dir=None))
        out = client.chat_many([{"messages": f"q{i}"} for i in range(6)], workers=6)
    assert all(r.text == "done" for r in out)
    assert peak[0] == 2


def test_server_models_and_transcription():
    from openai import OpenAI

    with serve("x", transcription="hello world") as srv:
        c = OpenAI(base_url=srv.base_url, api_key="k")
        assert [m.id for m in c.models.list()] == ["fake-model"]
        t = c.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF0000", "audio/wav"))
        assert t.text == "hello world"
    base_url, stop = serve("y")
    assert base_url.startswith("http://127.0.0.1:")
    stop()
