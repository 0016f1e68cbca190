"""The prompt file of `pixmo eval generate`: relative images, line-numbered errors."""

import json

import pytest

from pipelines.eval_generate import GenerateError, read_prompts


def test_prompts_resolve_images_next_to_the_file_and_skip_blank_lines(tmp_path):
    (tmp_path / "a.png").write_bytes(b"png")
    p = tmp_path / "prompts.jsonl"
    p.write_text(json.dumps({"image": "a.png", "prompt": "What is this?", "category": "x"}) + "\n\n")
    [row] = read_prompts(p)
    assert row["_path"] == str(tmp_path / "a.png") and row["category"] == "x"


@pytest.mark.parametrize("line,message", [
    ('{"image": "a.png", "prompt": "  "}', r"prompts.jsonl:2: 'prompt' must be a non-empty string"),
    ('["a.png", "hi"]', r"prompts.jsonl:2: each line must be a JSON object"),
    ('{"image": "b.png", "prompt": "hi"}', r"prompts.jsonl:2: image 'b.png' not found"),
    ("{not json", r"prompts.jsonl:2: not JSON"),
])
def test_bad_lines_are_named(tmp_path, line, message):
    (tmp_path / "a.png").write_bytes(b"png")
    p = tmp_path / "prompts.jsonl"
    p.write_text(json.dumps({"image": "a.png", "prompt": "ok"}) + "\n" + line + "\n")
    with pytest.raises(GenerateError, match=message):
        read_prompts(p)
