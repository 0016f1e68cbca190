"""pixmo.text: JSONL reading with line-numbered errors, edit distance."""

from __future__ import annotations

import pytest

from pixmo.text import levenshtein, read_jsonl


class Bad(Exception):
    pass


def test_read_jsonl_skips_blank_lines_and_names_the_bad_line(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert read_jsonl(p) == [{"a": 1}, {"a": 2}]
    p.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(Bad, match=r"x.jsonl:2: each line must be a JSON object"):
        read_jsonl(p, error=Bad)
    p.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(ValueError, match=r"x.jsonl:2: not JSON"):
        read_jsonl(p)


@pytest.mark.parametrize("a,b,d", [("", "", 0), ("abc", "", 3), ("kitten", "sitting", 3), ("flaw", "lawn", 2)])
def test_levenshtein(a, b, d):
    assert levenshtein(a, b) == d == levenshtein(b, a)
