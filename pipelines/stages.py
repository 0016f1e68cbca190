"""The demo's stage runner: each stage runs when its package provides what it needs, else says why not.

A stage is a function ``fn(ctx) -> str`` (a one-line summary). It raises ``Skip(reason)`` when a
package it needs is missing or incomplete; the runner prints ``skipped: <reason>`` and goes on.
Any other exception fails that stage (printed with its message) and the later stages still run.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console


class Skip(Exception):
    """A stage cannot run here; the message says why."""


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


def need(module: str, *attrs: str) -> Any:
    """Import ``module`` and check it has ``attrs``; raise Skip naming what is missing."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise Skip(f"{module} is not available ({exc})") from None
    missing = [a for a in attrs if not hasattr(mod, a)]
    if missing:
        raise Skip(f"{module} does not provide {', '.join(missing)} yet")
    return mod


def run_stages(stages: list[Stage], ctx: Context, only: set[str] | None = None) -> list[StageOutcome]:
    outcomes = []
    for i, st in enumerate(stages, 1):
        if only and st.name not in only:
            continue
        ctx.console.rule(f"[bold]stage {i}/{len(stages)}: {st.name}[/] {st.help}")
        t0 = time.perf_counter()
        try:
            detail, status = st.fn(ctx), "ok"
            ctx.console.print(f"[green]done[/] {st.name}: {detail}")
        except Skip as exc:
            detail, status = str(exc), "skipped"
            ctx.console.print(f"[yellow]skipped: {detail}[/]")
            ctx.notes.append(f"stage {st.name} skipped: {detail}")
        except Exception as exc:  # a failing stage must not hide the others
            detail, status = f"{type(exc).__name__}: {exc}", "failed"
            ctx.console.print(f"[red]failed[/] {st.name}: {detail}")
            ctx.console.print(traceback.format_exc(limit=6), markup=False, highlight=False)
            ctx.notes.append(f"stage {st.name} failed: {detail}")
        outcomes.append(StageOutcome(st.name, status, detail, time.perf_counter() - t0))
    return outcomes
