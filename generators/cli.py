"""``pixmo gen NAME ...``: each generator sub-package registers its command in its own ``cli.py``."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="Synthetic generators: clocks, count, docs, capqa.", no_args_is_help=True)

for _name in ("clocks", "count", "docs", "capqa"):
    try:
        _mod = importlib.import_module(f"generators.{_name}.cli")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"generators.{_name}"):
            continue  # generator not built yet
        raise
    _mod.register(app)
