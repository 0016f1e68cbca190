"""Docs generator configuration and personas."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from generators.docs.renderers import RENDERERS

PERSONAS_FILE = Path(__file__).with_name("personas.jsonl")
CATEGORIES = ("charts", "tables", "diagrams", "other")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Persona:
    persona: str
    domain: str | None = None


@dataclass
class DocsConfig:
    """Everything one run needs; plain values so it pickles to worker processes."""

    num: int = 70
    seed: int = 0
    mode: str = "offline"  # "offline" (template bank) or "llm"
    renderers: tuple[str, ...] = tuple(RENDERERS)
    personas_file: str = ""  # PersonaHub-style JSONL (field "persona"); "" -> the shipped list
    per_shard: int = 35
    timeout: float = 20.0  # seconds per render
    mem_mb: int = 1024  # memory a render may add
    attempts: int = 3  # offline: re-sample a document whose image is rejected
    threads: int = 6  # documents in flight per worker process (sandbox jobs and browser pages overlap)
    prompt_version: str = "docs-v1"
    llm: dict[str, object] = field(default_factory=dict)  # LLMSettings overrides (llm mode)
    split: str = ""  # "" (no split) or train/validation/test: personas and organisations of that split only

    def __post_init__(self) -> None:
        unknown = [r for r in self.renderers if r not in RENDERERS]
        if unknown:
            raise ValueError(f"unknown renderer(s) {unknown}; choose from {', '.join(RENDERERS)}")
        if self.mode not in ("offline", "llm"):
            raise ValueError(f"mode must be 'offline' or 'llm', got {self.mode!r}")
        if self.num < 0:
            raise ValueError(f"num must be >= 0, got {self.num}")
        if self.split not in ("", "train", "validation", "test"):
            raise ValueError(f"split must be train, validation or test, got {self.split!r}")
        if "api_key" in self.llm:
            raise ValueError("set the API key as PIXMO_LLM_API_KEY, not in the config (configs go into the manifest)")

    @classmethod
    def tiny(cls, **kw: object) -> DocsConfig:
        return cls(**{"num": 7, "per_shard": 7, "timeout": 10.0, **kw})  # type: ignore[arg-type]


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
