"""The ``pixmo`` command. The core data commands live in ``pixmo.cli_data``; the other packages
register their sub-commands through the ``pixmo.commands`` entry-point group (see pyproject.toml),
so this core never imports them. An entry point whose name starts with ``_`` adds its commands at
the top level instead of as a group.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import typer

app = typer.Typer(help="PixMo toolkit: make, check and train on PixMo-style datasets.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)


def _register() -> None:
    from pixmo import cli_data

    cli_data.register(app)
    for ep in sorted(entry_points(group="pixmo.commands"), key=lambda e: e.name):
        try:
            sub = ep.load()
        except ImportError as exc:  # an extra is not installed: say so instead of failing the CLI
            msg = f"unavailable: {exc} (install the matching extra)"
            stub = typer.Typer(help=msg)

            @stub.callback(invoke_without_command=True)
            def _missing(msg: str = msg) -> None:
                raise typer.Exit(code=2)

            app.add_typer(stub, name=ep.name.lstrip("_") or "x")
            continue
        if ep.name.startswith("_"):
            for cmd in sub.registered_commands:
                app.registered_commands.append(cmd)
            for grp in sub.registered_groups:
                app.registered_groups.append(grp)
        else:
            app.add_typer(sub, name=ep.name)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    _register()
    app()


if __name__ == "__main__":
    main()
