"""The ``pixmo`` command. The core data commands live in ``pixmo.cli_data``; the other packages
register their sub-commands through the ``pixmo.commands`` entry-point group (see pyproject.toml),
so this core never imports them. An entry point whose name starts with ``_`` adds its commands at
the top level instead of as a group.

Errors: ``main`` is the one place that turns an exception into what the user sees. Bad input
(a missing file, a malformed shard, a wrong column, ...) is one line ``error: ...`` on stderr and
exit status 2; anything else is one line naming the exception type, exit status 1. ``--debug``
anywhere on the command line (or ``PIXMO_DEBUG=1``) shows the full traceback instead.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib.metadata import PackageNotFoundError, entry_points, version
from typing import Annotated

import typer

app = typer.Typer(help="PixMo toolkit: make, check and train on PixMo-style datasets.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


def _version() -> str:
    try:
        return version("pixmo-toolkit")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"pixmo {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                               callback=_print_version)] = False,
) -> None:
    """PixMo toolkit: make, check and train on PixMo-style datasets (add --debug for tracebacks)."""


_registered = False


def _register() -> None:
    global _registered
    if _registered:  # main() may run several times in one process (tests)
        return
    _registered = True
    from pixmo import cli_data, cli_verbs

    cli_data.register(app)
    cli_verbs.register(app)
    for ep in sorted(entry_points(group="pixmo.commands"), key=lambda e: e.name):
        try:
            sub = ep.load()
        except ModuleNotFoundError as exc:
            if not _missing_extra(exc):
                raise  # a toolkit package that does not import is broken: fail loudly
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


TOOLKIT_PACKAGES = ("pixmo", "model", "generators", "annotation_app", "pipelines")


def _missing_extra(exc: ModuleNotFoundError) -> bool:
    """A third-party module of an optional extra is not installed (not a broken toolkit package)."""
    return bool(exc.name) and str(exc.name).split(".")[0] not in TOOLKIT_PACKAGES


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input: their message is the whole answer."""
    types: list[type[BaseException]] = [ValueError, OSError, KeyError, LookupError]
    try:
        import pyarrow as pa

        types.append(pa.ArrowException)
    except ImportError:
        pass
    return tuple(types)


def one_line(exc: BaseException) -> str:
    """The message of an exception on one line (first line only, at most 300 characters)."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:300]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module doc for errors)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("PIXMO_DEBUG", "") not in ("", "0")
    args = [a for a in args if a != "--debug"]
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore"):  # one INFO line per request would flood the terminal (and cost CPU)
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        _register()  # a toolkit package that does not import fails here, loudly (exit 1)
        rc = app(args=args, prog_name="pixmo", standalone_mode=False)
        return rc if isinstance(rc, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into a line
        show = getattr(exc, "show", None)  # click's usage errors (typer vendors click) print themselves
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if debug:
            raise
        if isinstance(exc, user_error_types()):
            print(f"error: {one_line(exc)}", file=sys.stderr)
            return 2
        print(f"error: {type(exc).__name__}: {one_line(exc)} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
