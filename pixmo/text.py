"""Small text helpers shared by every package: JSONL and YAML/JSON mapping files read with errors that
name the file, edit distance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_jsonl(path: str | Path, *, error: type[Exception] = ValueError,
               not_object: str = "each line must be a JSON object") -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, skipping blank lines.

    A bad line raises ``error`` with ``path:line`` and what is wrong, so callers keep their own
    exception types.
    """
    return [row for _, row in numbered_jsonl(path, error=error, not_object=not_object)]


def numbered_jsonl(path: str | Path, *, error: type[Exception] = ValueError,
                   not_object: str = "each line must be a JSON object") -> Iterator[tuple[int, dict[str, Any]]]:
    """``read_jsonl`` with each object's line number, for callers that check fields themselves."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise error(f"{path}:{n}: {not_object}")
            yield n, row


def read_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML (.yaml/.yml) or JSON file holding one mapping."""
    p = Path(path)
    text = p.read_text()
    if p.suffix in (".yaml", ".yml"):
        import yaml  # type: ignore[import-untyped]

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: expected a mapping at the top level")
    return data


def levenshtein(a: str, b: str) -> int:
    """Edit distance in characters (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
