"""Renderer parts: image checks, the sandbox worker, the Chromium page pool, LLM output parsing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from generators.docs.llm_stages import clean_csv, clean_json, code_validator, extract_code, split_topics
from generators.docs.qa import parse_qa_blocks, validate_qa_text
from generators.docs.renderers import RENDERERS, ImageRejected, check_image, crop_margins
from generators.docs.sandbox import Limits, RenderError, Sandbox
from tests.conftest import png_bytes


def _noise(h, w, channels=3):
    return np.random.default_rng(0).integers(0, 255, (h, w, channels), dtype=np.uint8)


def test_check_image_rules():
    blank = np.full((300, 400, 3), 255, np.uint8)
    blank[:5, :5] = 0
    with pytest.raises(ImageRejected, match="one colour"):
        check_image(png_bytes(blank))
    with pytest.raises(ImageRejected, match="aspect"):
        check_image(png_bytes(_noise(130, 700)))
    with pytest.raises(ImageRejected, match="short side"):
        check_image(png_bytes(_noise(100, 300)))
    with pytest.raises(ImageRejected, match="readable"):
        check_image(b"not a png")
    yy, xx = np.indices((1500, 2600))
    ramp = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)  # many colours, fast PNG
    big = Image.open(io.BytesIO(check_image(png_bytes(ramp))))
    assert big.width * big.height <= 2560 * 1440 and abs(big.width / big.height - 2600 / 1500) < 0.01
    rgba = _noise(200, 200, 4)
    rgba[..., 3] = 0  # fully transparent -> white after flattening -> one colour
    with pytest.raises(ImageRejected, match="one colour"):
        check_image(png_bytes(rgba))
    half = rgba.copy()
    half[:100, :, 3] = 255
    out = Image.open(io.BytesIO(check_image(png_bytes(half))))
    assert out.mode == "RGB" and out.getpixel((5, 150)) == (255, 255, 255)


def test_crop_margins_keeps_a_margin():
    page = np.full((600, 500, 3), 255, np.uint8)
    page[200:260, 100:300] = 0
    im = Image.open(io.BytesIO(crop_margins(png_bytes(page), 20)))
    assert im.size == (200 + 40, 60 + 40)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(Limits(timeout=3.0, mem_mb=512)) as sb:
        yield sb


def _py(sb, code):
    return sb.run("python", {"code.py": code, "data.csv": "a,b\nx,1\ny,2\n"}, ("out.png",), mode="plot")


@pytest.mark.parametrize("code,error", [
    ("def generate_plot(df):\n    return 1 / 0\n", "ZeroDivisionError"),
    ("def generate_plot(df):\n    while True:\n        pass\n", "time limit"),
    ("def generate_plot(df):\n    return bytearray(10 * 1024**3)\n", "MemoryError"),
    ("import socket\ndef generate_plot(df):\n    socket.create_connection(('127.0.0.1', 5432))\n", "network"),
    ("import subprocess\ndef generate_plot(df):\n    subprocess.run(['true'])\n", "processes is disabled"),
    ("x = 1\n", "generate_plot"),
])
def test_sandbox_rejects_bad_code(sandbox, code, error):
    with pytest.raises(RenderError, match=error):
        _py(sandbox, code)


def test_sandbox_survives_and_renders_after_failures(sandbox):
    code = ("import io\nimport matplotlib.pyplot as plt\nfrom PIL import Image\n"
            "def generate_plot(df):\n    fig, ax = plt.subplots()\n    ax.bar(df.a, df.b)\n"
            "    buf = io.BytesIO()\n    fig.savefig(buf, format='png')\n    buf.seek(0)\n    return Image.open(buf)\n")
    with pytest.raises(RenderError):
        _py(sandbox, "def generate_plot(df):\n    import os\n    os._exit(9)\n")
    out = _py(sandbox, code)["out.png"]
    assert Image.open(io.BytesIO(out)).size == (640, 480)


def test_exec_jobs_latex_and_dot(sandbox):
    from generators.docs.renderers import RenderContext

    ctx = RenderContext(Limits(timeout=10.0))
    try:
        dot = RENDERERS["graphviz"].render("digraph G { a -> b -> c; a -> c; }", "{}", ctx)
        assert Image.open(io.BytesIO(dot)).size[1] > 100
        tex = ("\\documentclass{article}\\pagestyle{empty}\\begin{document}\\begin{tabular}{|l|r|}\\hline "
               "Apple & 3 \\\\ \\hline\\end{tabular}\\end{document}")
        png = Image.open(io.BytesIO(RENDERERS["latex"].render(tex, "{}", ctx)))
        assert png.size[0] < 600 and png.size[1] < 300  # cropped from a full page
        with pytest.raises(RenderError, match="exit status"):
            RENDERERS["latex"].render("\\documentclass{article}\\begin{document}\\undefinedmacro", "{}", ctx)
    finally:
        ctx.close()


@pytest.mark.browser
def test_browser_pool_reuses_one_chromium_and_survives_a_hang():
    from generators.docs.browser import BrowserPool

    pool = BrowserPool(pages_per_kind=2, timeout=3.0)
    try:
        for i in range(3):
            png = pool.render("html", f"<body style='background:#abc'><h1>page {i}</h1></body>", width=400)
            assert Image.open(io.BytesIO(png)).width == 400
        with pytest.raises(RenderError, match="time limit"):
            pool.render("html", "<script>while (true) {}</script>")
        blocked = pool.render("html", "<img src='http://93.184.216.34/x.png'><p>offline</p>")
        assert blocked[:4] == b"\x89PNG"
        fig = {"data": [{"type": "bar", "x": ["a", "b"], "y": [1, 3]}], "layout": {"width": 400, "height": 300}}
        assert Image.open(io.BytesIO(pool.render("plotly", fig))).size == (400, 300)
        mm = Image.open(io.BytesIO(pool.render("mermaid", "flowchart TD\n  A[Start] --> B[End]")))
        assert mm.height > 150
        with pytest.raises(RenderError, match="mermaid"):
            pool.render("mermaid", "flowchart TD\n  A[[[ -->")
        assert pool.launches == 1
    finally:
        pool.close()


def test_llm_output_checks():
    assert extract_code("text\n```python\nprint(1)\n```\nmore") == "print(1)"
    assert extract_code("```json\n{}\n```\n```html\n<p>x</p>\n```", "html") == "<p>x</p>"
    with pytest.raises(ValueError, match="unterminated"):
        extract_code("```python\nprint(1)")
    assert clean_csv("Here:\n```csv\nName,Score\nA,1\nB,2,extra\nC,3\n```") == "Name,Score\nA,1\nC,3\n"
    with pytest.raises(ValueError):
        clean_csv("no data here")
    assert clean_json('```json\n{"a": [1, 2]}\n```') == '{"a": [1, 2]}'
    with pytest.raises(ValueError):
        clean_json("```json\n{broken\n```")
    with pytest.raises(ValueError, match="generate_plot"):
        code_validator(RENDERERS["matplotlib"])("```python\nprint(1)\n```")
    with pytest.raises(ValueError):
        code_validator(RENDERERS["vegalite"])("```json\n{not json\n```")
    assert split_topics("Ribs | Brisket |  | Slaw") == ["Ribs", "Brisket", "Slaw"]


def test_qa_blocks_need_exactly_three_parts():
    text = "Q1 | A1 | E1\n\nQ2 | A2\n\nQ3 | A3 | E3 | extra\n\n  Q4 |A4| E4  \n"
    assert parse_qa_blocks(text) == [("Q1", "A1", "E1"), ("Q4", "A4", "E4")]
    with pytest.raises(ValueError, match="need 5"):
        validate_qa_text(text)


def test_personahub_jsonl(tmp_path):
    from generators.docs.bank import domain_for
    from generators.docs.config import load_personas

    f = tmp_path / "p.jsonl"
    f.write_text('{"persona": "A hospital nurse on night shifts", "id": 1}\n\n'
                 '{"persona": "一位厨师"}\n{"persona": "Someone who likes knots"}\n', encoding="utf-8")
    ps = load_personas(f)
    assert [p.persona for p in ps] == ["A hospital nurse on night shifts", "Someone who likes knots"]
    assert domain_for(ps[0].persona, ps[0].domain, 0).name == "health"
    assert domain_for(ps[1].persona, ps[1].domain, 3).name  # no keyword: a seeded pick
    assert len(load_personas()) >= 30
    f.write_text('{"name": "no persona field"}\n')
    with pytest.raises(ValueError, match="persona"):
        load_personas(f)


def test_gen_docs_cli_offline(tmp_path, capsys):
    from typer.testing import CliRunner

    from generators.cli import app
    from pixmo.validate import validate_dir

    res = CliRunner().invoke(app, ["docs", "--num", "4", "--out", str(tmp_path / "d"), "--renderers",
                                   "graphviz,latex", "--seed", "2"])
    assert res.exit_code == 0, res.output
    assert '"per_renderer": {"graphviz": 2, "latex": 2}' in res.output
    assert validate_dir(tmp_path / "d", progress=False).ok
    from pixmo.cli import main

    assert main(["gen", "docs", "--num", "1", "--out", str(tmp_path / "e"), "--renderers", "powerpoint"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown renderer") and len(err.strip().splitlines()) == 1
