"""The one LLM client of the project: any OpenAI-compatible chat endpoint.

Settings come from the environment (prefix ``PIXMO_LLM_``) or are passed in::

    PIXMO_LLM_BASE_URL=http://127.0.0.1:8000/v1  PIXMO_LLM_API_KEY=...  PIXMO_LLM_MODEL=gpt-4o-mini
    PIXMO_LLM_MODELS='{"code": "claude-3-5-sonnet", "qa": "gpt-4o-mini"}'   # model per stage

With no endpoint configured, :class:`LLMClient` raises :class:`LLMUnavailable`, so every feature
can fall back to its offline path. Each call gets bounded concurrency (a semaphore shared by all
threads), retries with exponential back-off on API errors *and* on replies that a ``validate``
hook rejects (the error is sent back to the model), token and cost accounting, an on-disk response
cache keyed by model + messages + params (a rerun costs nothing), and provenance on the result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

Messages = list[dict[str, Any]]
Validator = Callable[[str], Any]


class LLMUnavailable(RuntimeError):
    """No LLM endpoint is configured (or it cannot be reached)."""


class LLMError(RuntimeError):
    """A call failed after all retries; ``errors`` lists what went wrong on each attempt."""

    def __init__(self, msg: str, errors: list[str]):
        super().__init__(msg)
        self.errors = errors


class LLMSettings(BaseSettings):
    """Client settings; every field can be set as ``PIXMO_LLM_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="PIXMO_LLM_", extra="ignore")

    base_url: str | None = None  # e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1
    api_key: str = "unused"
    model: str = "gpt-4o-mini"  # default model for any stage not named in `models`
    models: dict[str, str] = Field(default_factory=dict)  # stage -> model
    timeout: float = 60.0  # seconds per request
    max_retries: int = 3  # extra attempts after the first
    backoff: float = 1.0  # first back-off in seconds, doubled each retry
    max_backoff: float = 30.0
    concurrency: int = 4  # requests in flight at once, per process
    cache_dir: str | None = "var/llm_cache"  # None or "" disables the cache
    price_in: dict[str, float] = Field(default_factory=dict)  # model -> USD per 1M prompt tokens
    price_out: dict[str, float] = Field(default_factory=dict)  # model -> USD per 1M completion tokens

    def model_for(self, stage: str) -> str:
        return self.models.get(stage, self.model)

    @classmethod
    def tiny(cls, base_url: str, **kw: Any) -> LLMSettings:
        """Settings for tests: no back-off, short timeout."""
        return cls(**{"base_url": base_url, "backoff": 0.0, "timeout": 5.0, **kw})


@dataclass
class LLMResult:
    """A validated reply and where it came from."""

    text: str
    parsed: Any
    model: str
    endpoint: str
    stage: str
    prompt_version: str
    cached: bool
    attempts: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def provenance(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "model": self.model, "stage": self.stage,
                "prompt_version": self.prompt_version, "cached": self.cached}


@dataclass
class Usage:
    requests: int = 0
    cached: int = 0
    failed: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class Accounting:
    """Token and cost totals per model, safe to update from many threads."""

    by_model: dict[str, Usage] = field(default_factory=dict)
    by_stage: dict[str, dict[str, Usage]] = field(default_factory=dict)  # stage -> model -> usage
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, model: str, stage: str = "", **counts: float) -> None:
        with self._lock:
            targets = [self.by_model.setdefault(model, Usage())]
            if stage:
                targets.append(self.by_stage.setdefault(stage, {}).setdefault(model, Usage()))
            for u in targets:
                for k, v in counts.items():
                    setattr(u, k, getattr(u, k) + v)

    def totals(self) -> dict[str, Any]:
        with self._lock:
            out = {m: asdict(u) for m, u in self.by_model.items()}
            stages = {s: {m: asdict(u) for m, u in ms.items()} for s, ms in self.by_stage.items()}
        total = Usage()
        for u in out.values():
            for k, v in u.items():
                setattr(total, k, getattr(total, k) + v)
        return {"models": out, "total": asdict(total), "stages": stages}


def cache_key(model: str, messages: Messages, params: dict[str, Any]) -> str:
    blob = json.dumps({"model": model, "messages": messages, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """One JSON file per key under ``root/ab/<key>.json``, written atomically."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        p = self._path(key)
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(value))
        os.replace(tmp, p)


_SEMAPHORES: dict[int, threading.BoundedSemaphore] = {}
_SEM_LOCK = threading.Lock()


def _semaphore(n: int) -> threading.BoundedSemaphore:
    with _SEM_LOCK:
        return _SEMAPHORES.setdefault(n, threading.BoundedSemaphore(max(1, n)))


class LLMClient:
    """Chat completions with retries, validation, cache, accounting and provenance."""

    def __init__(self, settings: LLMSettings | None = None, **overrides: Any):
        s = settings or LLMSettings()
        if overrides:
            s = s.model_copy(update=overrides)
        if not s.base_url:
            raise LLMUnavailable(
                "no LLM endpoint configured: set PIXMO_LLM_BASE_URL (and PIXMO_LLM_API_KEY, PIXMO_LLM_MODEL) "
                "to an OpenAI-compatible endpoint, or use the offline mode")
        from openai import OpenAI

        self.settings = s
        self.endpoint = s.base_url.rstrip("/")
        self._client = OpenAI(base_url=self.endpoint, api_key=s.api_key, timeout=s.timeout, max_retries=0)
        self._sem = _semaphore(s.concurrency)
        self.cache = ResponseCache(s.cache_dir) if s.cache_dir else None
        self.accounting = Accounting()

    def model_for(self, stage: str) -> str:
        return self.settings.model_for(stage)

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        s = self.settings
        return (prompt_tokens * s.price_in.get(model, 0.0) + completion_tokens * s.price_out.get(model, 0.0)) / 1e6

    def chat(self, messages: Messages | str, *, stage: str = "default", model: str | None = None,
             validate: Validator | None = None, prompt_version: str = "v1", **params: Any) -> LLMResult:
        """One chat completion. ``validate(text)`` returns the parsed value or raises to force a retry."""
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        model = model or self.model_for(stage)
        key = cache_key(model, messages, params)
        hit = self._from_cache(key, validate, model, stage, prompt_version)
        if hit is not None:
            return hit
        convo = list(messages)
        errors: list[str] = []
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                self.accounting.add(model, stage, retries=1)
                time.sleep(min(self.settings.backoff * 2 ** (attempt - 1), self.settings.max_backoff))
            try:
                text, pt, ct = self._request(model, convo, params)
            except Exception as exc:  # noqa: BLE001 - API, network and timeout errors all retry
                errors.append(f"attempt {attempt + 1}: request failed: {type(exc).__name__}: {exc}")
                log.warning("LLM %s (%s): %s", stage, model, errors[-1])
                continue
            cost = self.cost(model, pt, ct)
            self.accounting.add(model, stage, requests=1, prompt_tokens=pt, completion_tokens=ct, cost_usd=cost)
            try:
                parsed = validate(text) if validate else text
            except Exception as exc:  # noqa: BLE001 - any validator error means "ask again"
                errors.append(f"attempt {attempt + 1}: invalid reply: {exc}")
                log.info("LLM %s (%s): %s", stage, model, errors[-1])
                convo = [*messages, {"role": "assistant", "content": text},
                         {"role": "user", "content": f"Your reply was rejected: {exc}. "
                                                     "Reply again, following the required format exactly."}]
                continue
            if self.cache:
                self.cache.put(key, {"text": text, "model": model, "prompt_tokens": pt, "completion_tokens": ct})
            return LLMResult(text, parsed, model, self.endpoint, stage, prompt_version, False, attempt + 1, pt, ct, cost)
        self.accounting.add(model, stage, failed=1)
        raise LLMError(f"LLM stage {stage!r} ({model}) failed after {len(errors)} attempts: {errors[-1]}", errors)

    def _from_cache(self, key: str, validate: Validator | None, model: str, stage: str,
                    prompt_version: str) -> LLMResult | None:
        if not self.cache:
            return None
        entry = self.cache.get(key)
        if entry is None:
            return None
        try:
            parsed = validate(entry["text"]) if validate else entry["text"]
        except Exception:  # noqa: BLE001 - a validator that got stricter: ask again
            return None
        self.accounting.add(model, stage, cached=1)
        # the tokens the reply took when it was made (nothing is spent now: cost_usd stays 0)
        return LLMResult(entry["text"], parsed, model, self.endpoint, stage, prompt_version, True, 0,
                         int(entry.get("prompt_tokens", 0)), int(entry.get("completion_tokens", 0)))

    def _request(self, model: str, messages: Messages, params: dict[str, Any]) -> tuple[str, int, int]:
        with self._sem:
            resp = self._client.chat.completions.create(model=model, messages=messages, **params)  # type: ignore[arg-type]
        if not resp.choices:
            raise ValueError("the reply has no choices")
        text = resp.choices[0].message.content or ""
        usage = resp.usage
        return text, (usage.prompt_tokens if usage else 0), (usage.completion_tokens if usage else 0)

    def chat_many(self, calls: Sequence[dict[str, Any]], workers: int | None = None) -> list[LLMResult | Exception]:
        """Run many ``chat(**call)`` at once (bounded by ``concurrency``); failures come back as exceptions."""
        def one(call: dict[str, Any]) -> LLMResult | Exception:
            try:
                return self.chat(**call)
            except Exception as exc:  # noqa: BLE001 - returned to the caller, one per call
                return exc

        with ThreadPoolExecutor(max_workers=workers or self.settings.concurrency) as pool:
            return list(pool.map(one, calls))

    def usage(self) -> dict[str, Any]:
        return self.accounting.totals()


def get_client(settings: LLMSettings | None = None, **overrides: Any) -> LLMClient:
    """The configured client, or :class:`LLMUnavailable` with a message saying what to set."""
    return LLMClient(settings, **overrides)


def available(settings: LLMSettings | None = None) -> bool:
    return bool((settings or LLMSettings()).base_url)
