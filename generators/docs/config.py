"""Docs generator configuration and personas."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators.docs.renderers import RENDERERS
from generators.docs.sandbox import Limits

PERSONAS_FILE = Path(__file__).with_name("personas.jsonl")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Persona:
    persona: str
    domain: str | None = None


@dataclass(frozen=True)
class DocsConfig:
    """What a run makes: the runner fingerprints it per shard and writes it to the manifest.

    How many documents (``--num``), the seed, the shard size and how they are rendered
    (:class:`RenderOptions`) are run options: changing them reuses the finished shards.
    Plain values, so it pickles to worker processes."""

    mode: str = "offline"  # "offline" (template bank) or "llm"
    renderers: tuple[str, ...] = field(default_factory=lambda: tuple(RENDERERS))  # every registered one
    personas_file: str = ""  # PersonaHub-style JSONL (field "persona"); "" -> the shipped list
    attempts: int = 3  # offline: re-sample a document whose image is rejected
    prompt_version: str = "docs-v1"
    llm: dict[str, Any] = field(default_factory=dict)  # LLMSettings overrides (llm mode)
    split: str = ""  # "" (no split) or train/validation/test: personas and organisations of that split only
    personas_sha256: str = ""  # set from personas_file's bytes: an edited file is new content, not a resume
    difficulty_mix: tuple[tuple[str, float], ...] = ()  # (level, weight) pairs (difficulty.py); () = no mix
    dedup_image_bits: int = 8  # drop a document within this many of 256 dHash bits of a kept one; -1: off
    dedup_text: float = 0.8  # ... or whose title+data MinHash agrees on this share of slots; 0: off
    used_personas_sha256: str = ""  # --ledger: digest of the personas earlier runs used (drawn last)

    def __post_init__(self) -> None:
        if self.personas_file and not self.personas_sha256:
            try:
                digest = hashlib.sha256(Path(self.personas_file).read_bytes()).hexdigest()
            except OSError as exc:
                raise ValueError(f"personas file {self.personas_file}: {exc.strerror}") from None
            object.__setattr__(self, "personas_sha256", digest)
        if not self.renderers:
            raise ValueError(f"renderers must name at least one of {', '.join(RENDERERS)}")
        unknown = [r for r in self.renderers if r not in RENDERERS]
        if unknown:
            raise ValueError(f"unknown renderer(s) {unknown}; choose from {', '.join(RENDERERS)}")
        if self.mode not in ("offline", "llm"):
            raise ValueError(f"mode must be 'offline' or 'llm', got {self.mode!r}")
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.split not in ("", "train", "validation", "test"):
            raise ValueError(f"split must be train, validation or test, got {self.split!r}")
        from generators.docs.difficulty import check_mix

        check_mix(tuple(tuple(x) for x in self.difficulty_mix))  # type: ignore[misc]
        if not -1 <= self.dedup_image_bits < 256:
            raise ValueError(f"dedup_image_bits must be -1 (off) to 255, got {self.dedup_image_bits}")
        if not 0.0 <= self.dedup_text <= 1.0:
            raise ValueError(f"dedup_text must be 0 (off) to 1, got {self.dedup_text}")
        if "api_key" in self.llm:
            raise ValueError("set the API key as PIXMO_LLM_API_KEY, not in the config (configs go into the manifest)")


@dataclass(frozen=True)
class RenderOptions:
    """How a worker renders, not what: documents (or pages) in flight at once and the limits of one
    render. Not fingerprinted: a document that runs over a limit is rejected (counted in the stats),
    which a slower machine does at the same limits too, so the limits do not define the bytes."""

    threads: int = 6  # documents in flight per worker process (sandbox jobs and browser pages overlap)
    timeout: float = 20.0  # seconds per render
    mem_mb: int = 1024  # memory a render may add

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError(f"--threads must be at least 1, got {self.threads}")
        self.limits()  # checks the timeout and the memory limit

    def limits(self) -> Limits:
        return Limits(timeout=self.timeout, mem_mb=self.mem_mb)


def load_personas(path: str | Path = "") -> list[Persona]:
    """Personas from a JSONL file with a ``persona`` field (lines with Chinese characters are skipped,
    as in the reference); the shipped list when ``path`` is empty."""
    p = Path(path) if path else PERSONAS_FILE
    if not p.exists():
        raise FileNotFoundError(f"persona file {p} does not exist")
    out = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or _CJK.search(line):
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{p}:{n}: not JSON ({exc})") from None
        if not isinstance(row, dict) or not isinstance(row.get("persona"), str):
            raise ValueError(f"{p}:{n}: each line needs a string field 'persona'")
        out.append(Persona(row["persona"].strip(), row.get("domain")))
    if not out:
        raise ValueError(f"{p} holds no usable personas")
    return out
