"""Core data commands: validate, stats, show, import-hf, export-hf (filled in by the Foundation work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the core data commands to the root app."""
