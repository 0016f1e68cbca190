"""CLI registration: a toolkit package that does not import fails the CLI loudly; a missing extra is named."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import typer

from pixmo import cli


def _with_entry_point(monkeypatch, value: str) -> None:
    monkeypatch.setattr(cli, "app", typer.Typer())
    monkeypatch.setattr(cli, "_registered", False)
    monkeypatch.setattr(cli, "entry_points", lambda group: [EntryPoint("model", value, group)])


def test_a_broken_toolkit_package_fails_the_cli(monkeypatch, capsys):
    _with_entry_point(monkeypatch, "model._no_such_module:app")
    assert cli.main(["--help"]) == 1
    err = capsys.readouterr().err
    assert "ModuleNotFoundError" in err and "model._no_such_module" in err and "Traceback" not in err


def test_a_missing_third_party_extra_leaves_a_stub_that_names_it(monkeypatch, capsys):
    _with_entry_point(monkeypatch, "no_such_extra_pkg_i22:app")
    assert cli.main(["model"]) == 2
    assert cli.main(["--help"]) == 0
    assert "no_such_extra_pkg_i22" in capsys.readouterr().out
