"""The demo's stage runner: every stage runs, or is skipped for a declared reason.

A stage is a function ``fn(ctx) -> str`` (a one-line summary). It raises ``Skip(kind, detail)`` only for
a reason declared in ``SKIP_REASONS`` (the preset leaves it out; an earlier stage did not produce its
input); the runner prints ``skipped: <detail>`` and goes on. Anything else, a failing import of a
toolkit package included, fails that stage loudly (printed with its message, exit status 1) and the
later stages still run.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

SKIP_REASONS = {
    "preset": "the preset leaves the stage out",
    "upstream": "an earlier stage did not produce this stage's input",
}


class Skip(Exception):
    """A stage does not run, for a declared reason (``kind`` in ``SKIP_REASONS``); ``detail`` says more."""

    def __init__(self, kind: str, detail: str):
        if kind not in SKIP_REASONS:
            raise ValueError(f"undeclared skip reason {kind!r}; declared: {sorted(SKIP_REASONS)}")
        super().__init__(detail)
        self.kind = kind


@dataclass
class Context:
    out: Path
    config: Any
    console: Console
    datasets: dict[str, str] = field(default_factory=dict)  # name -> shard dir, for the report
    results: dict[str, Any] = field(default_factory=dict)  # stage name -> whatever it returns
    notes: list[str] = field(default_factory=list)
    progress: bool = True

    def path(self, *parts: str) -> Path:
        p = self.out.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


@dataclass
class Stage:
    name: str
    fn: Callable[[Context], str]
    help: str = ""


@dataclass
class StageOutcome:
    name: str
    status: str  # ok | skipped | failed
    detail: str
    seconds: float
    reason: str = ""  # a key of SKIP_REASONS when skipped


def run_stages(stages: list[Stage], ctx: Context, only: set[str] | None = None) -> list[StageOutcome]:
    outcomes = []
    for i, st in enumerate(stages, 1):
        if only and st.name not in only:
            continue
        ctx.console.rule(f"[bold]stage {i}/{len(stages)}: {st.name}[/] {st.help}")
        t0 = time.perf_counter()
        reason = ""
        try:
            detail, status = st.fn(ctx), "ok"
            ctx.console.print(f"[green]done[/] {st.name}: {detail}")
        except Skip as exc:
            detail, status, reason = str(exc), "skipped", exc.kind
            ctx.console.print(f"[yellow]skipped: {detail}[/]")
            ctx.notes.append(f"stage {st.name} skipped: {detail}")
        except Exception as exc:  # a failing stage must not hide the others
            detail, status = f"{type(exc).__name__}: {exc}", "failed"
            ctx.console.print(f"[red]failed[/] {st.name}: {detail}")
            ctx.console.print(traceback.format_exc(limit=6), markup=False, highlight=False)
            ctx.notes.append(f"stage {st.name} failed: {detail}")
        outcomes.append(StageOutcome(st.name, status, detail, time.perf_counter() - t0, reason))
    return outcomes
