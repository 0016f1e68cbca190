"""LLM mode through the new renderers, against the local OpenAI-compatible test server: SchemDraw, RDKit,
DOCX, SVG and web-screen code from canned replies renders in the sandbox/browser; answers that quote the
data are kept only when the image draws them."""

from __future__ import annotations

import json

import pytest

from generators.docs.config import DocsConfig
from generators.docs.pipeline import make_shard
from generators.runner import plan_tasks
from pixmo.testing import serve

DATA = {"title": "LED driver board", "supplier": "Mouser", "source": ["V1", "9 V"],
        "parts": [["R1", "R", "470 Ω"], ["R2", "R", "1 kΩ"]],
        "molecules": [{"name": "Caffeine", "smiles": "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "formula": "C8H10N4O2"}]}

CODE = {
    "schemdraw": '''```python
import io
import schemdraw
import schemdraw.elements as elm
from PIL import Image

def generate_diagram(data):
    schemdraw.use("matplotlib")
    with schemdraw.Drawing(show=False, fontsize=14) as d:
        d.config(bgcolor="#eef3f8")
        d.add(elm.SourceV().up().label(data["source"][0] + "\\n" + data["source"][1]))
        for name, _, value in data["parts"]:
            d.add(elm.Resistor().right().label(name).label(value, loc="bottom"))
        d.add(elm.Line().down())
        d.add(elm.Line().left().tox(0))
        d.add(elm.Line().up().toy(0))
    fig = d.draw(show=False)
    fig.ax.set_title(data["title"], fontsize=16)
    fig.ax.add_patch(__import__("matplotlib").patches.Rectangle((0, 0), 6, 3, color="#c9d8ec", zorder=-1))
    buf = io.BytesIO()
    fig.fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    buf.seek(0)
    return Image.open(buf)
```''',
    "rdkit": '''```python
import io
import matplotlib.pyplot as plt
from PIL import Image
from rdkit import Chem
from rdkit.Chem import Draw

def generate_diagram(data):
    m = data["molecules"][0]
    fig, ax = plt.subplots(figsize=(7, 5), facecolor="#f7f3ea")
    ax.imshow(Draw.MolToImage(Chem.MolFromSmiles(m["smiles"]), size=(400, 400)))
    ax.axis("off")
    ax.set_title(m["name"] + " (" + m["formula"] + ")", fontsize=16)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
    buf.seek(0)
    return Image.open(buf)
```''',
    "docx": '''```python
from docx import Document

def generate_document(data):
    doc = Document()
    doc.add_heading(data["title"], level=1)
    table = doc.add_table(rows=1, cols=2)
    table.style = "Light Grid Accent 1"
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Part", "Value"
    for name, _, value in data["parts"]:
        row = table.add_row().cells
        row[0].text, row[1].text = name, value
    return doc
```''',
    "svg": '''```svg
<svg xmlns="http://www.w3.org/2000/svg" width="600" height="320">
  <rect width="600" height="320" fill="#f7f3ea"/>
  <text x="300" y="40" font-size="22" text-anchor="middle">LED driver board</text>
  <rect x="60" y="80" width="200" height="160" fill="#4C72B0"/><rect x="320" y="120" width="200" height="120" fill="#DD8452"/>
  <text x="160" y="270" font-size="16" text-anchor="middle">R1 470 Ω</text>
  <text x="420" y="270" font-size="16" text-anchor="middle">R2 1 kΩ</text>
</svg>
```''',
    "webscreen": '''```html
<!DOCTYPE html><html><head><style>body{margin:0;font-family:sans-serif;background:#f6f8fa}
nav{background:#1f6feb;color:#fff;padding:14px}main{padding:24px}.card{background:#fff;padding:16px;margin:8px 0}</style></head>
<body><nav>Parts app</nav><main><h1>LED driver board</h1><div class="card">R1: 470 Ω</div>
<div class="card">R2: 1 kΩ</div><button>Order</button></main></body></html>
```''',
}
QA = "\n\n".join(["What is the title? | LED driver board | Drawn at the top.",
                  "What is the value of R1? | 470 Ω | The label.",
                  "What is the value of R2? | 1 kΩ | The label.",
                  "How many resistors are there? | 2 | Two parts.",
                  "Who supplied the parts? | Mouser | In the data only.",
                  "Is R2 larger than R1? | Yes | 1000 > 470.",
                  "What is the tolerance of R1? | Cannot be determined | Not given."])


def _reply(req):
    first = req["messages"][0]["content"]
    if first.startswith("You are"):
        return "LED driver board | Bench supply"
    if "Write realistic data" in first:
        return "```json\n" + json.dumps(DATA, ensure_ascii=False) + "\n```"
    if "Make a" in first:
        return next(code for name, code in CODE.items() if f" with {name}." in first)
    if "NOT provided" in first:
        return QA
    return "unexpected"


@pytest.mark.browser
def test_llm_mode_renders_the_new_renderers_and_keeps_only_drawn_answers(tmp_path):
    with serve(_reply) as srv:
        llm = {"base_url": srv.base_url, "cache_dir": str(tmp_path / "cache"), "backoff": 0.0}
        cfg = DocsConfig(renderers=tuple(CODE), mode="llm", llm=llm)
        res = make_shard(cfg, plan_tasks(list(range(5)), 5, 2)[0])
    assert res.stats["rejected"] == 0, res.stats["rejections"]
    got = {s.annotations[0].meta["renderer"]: s.annotations[0] for s in res.samples}
    assert set(got) == set(CODE)
    for name, ann in got.items():
        answers = dict(zip(ann.record.questions.question, ann.record.questions.answer, strict=True))
        assert "Who supplied the parts?" not in answers, name  # "Mouser" is in the data, never drawn
        assert answers["How many resistors are there?"] == "2"  # computed: no evidence needed
        if name != "rdkit":  # the molecule page draws neither the title nor the parts
            assert answers["What is the value of R1?"] == "470 Ω", name
            assert answers["What is the title?"] == "LED driver board", name
        drawn = " ".join(t for t, _ in ann.meta["drawn_text"])
        assert ("Caffeine" if name == "rdkit" else "470 Ω") in drawn, (name, drawn[:200])
        assert ann.meta["provenance"]["code"]["endpoint"] == srv.base_url
