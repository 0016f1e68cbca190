"""The jail holds for the renderers of renderers_py.py: SchemDraw/RDKit/python-docx code runs in the
sandbox worker, LibreOffice in the jail, SVG and web screens in the jailed Chromium. Each test is an
attack through the real renderer, and checks what ends up drawn (the text the image shows)."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from generators.docs.renderers import RENDERERS, RenderContext
from generators.docs.sandbox import Limits, RenderError


@pytest.fixture(scope="module")
def ctx():
    c = RenderContext(Limits(timeout=40.0))
    yield c
    c.close()


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    p = tmp_path / "host-secret.txt"
    p.write_text("HOSTSECRET-31337\n")
    p.chmod(0o644)
    tmp_path.chmod(0o755)
    return p


def _drawn(ctx, renderer: str, code: str, data: str = "{}") -> str:
    ctx.drawn.clear()
    RENDERERS[renderer].render(code, data, ctx)
    return " | ".join(t for t, _ in ctx.drawn)


def _steal(paths: list[str]) -> str:
    """Python that reads each path and keeps the first line, or the error's name."""
    return (f"def steal():\n    out = []\n    for p in {paths!r}:\n        try:\n"
            "            out.append(open(p).read().splitlines()[0])\n"
            "        except Exception as exc:\n            out.append('blocked ' + type(exc).__name__)\n"
            "    return ' / '.join(out)\n")


def test_schemdraw_code_cannot_read_host_files(ctx, secret):
    code = _steal(["/etc/passwd", str(secret), "/root/.bashrc"]) + '''
import io
import schemdraw
import schemdraw.elements as elm
from PIL import Image

def generate_diagram(data):
    schemdraw.use("matplotlib")
    with schemdraw.Drawing(show=False) as d:
        d.add(elm.Resistor().right().label(steal()))
        d.add(elm.Capacitor().down().label("C1"))
    fig = d.draw(show=False)
    buf = io.BytesIO()
    fig.fig.savefig(buf, format="png", dpi=150, facecolor="#f0f0f0")
    buf.seek(0)
    return Image.open(buf)
'''
    try:
        drawn = _drawn(ctx, "schemdraw", code)
    except RenderError as exc:  # the image may be too plain for the checks: only what was drawn matters
        drawn = str(exc)
    assert "blocked" in drawn and "root:x" not in drawn and "HOSTSECRET" not in drawn


def test_rdkit_code_cannot_read_host_files_or_open_sockets(ctx, secret):
    code = _steal(["/etc/passwd", str(secret)]) + '''
import io
import socket
import matplotlib.pyplot as plt
from PIL import Image
from rdkit import Chem
from rdkit.Chem import Draw

def generate_diagram(data):
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1)
        net = "connected"
    except Exception as exc:
        net = "no network " + type(exc).__name__
    try:
        mol = Chem.MolFromMolFile("/etc/passwd")
    except OSError as exc:
        mol = "molfile blocked " + type(exc).__name__
    fig, ax = plt.subplots(figsize=(6, 4), facecolor="#ddeeff")
    ax.imshow(Draw.MolToImage(Chem.MolFromSmiles("CCO"), size=(300, 300)))
    ax.set_title(steal() + " | " + net + " | " + str(mol))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    buf.seek(0)
    return Image.open(buf)
'''
    drawn = _drawn(ctx, "rdkit", code)
    assert "blocked" in drawn and "no network" in drawn and "molfile blocked" in drawn
    assert "root:x" not in drawn and "HOSTSECRET" not in drawn and "connected" not in drawn


def test_docx_code_and_libreoffice_cannot_read_host_files(ctx, secret):
    """python-docx code that writes host files into the document, and a document that asks LibreOffice
    to include /etc/passwd (an INCLUDETEXT field) and to link an image from the host: the page shows none."""
    code = _steal(["/etc/passwd", str(secret)]) + f'''
from docx import Document
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

def generate_document(data):
    doc = Document()
    doc.add_heading("Jail report", level=1)
    doc.add_paragraph("Read: " + steal())
    field = parse_xml('<w:fldSimple %s w:instr="INCLUDETEXT &quot;/etc/passwd&quot;">'
                      '<w:r><w:t>field placeholder</w:t></w:r></w:fldSimple>' % nsdecls("w"))
    doc.add_paragraph()._p.append(field)
    field = parse_xml('<w:fldSimple %s w:instr="INCLUDETEXT &quot;{secret}&quot;">'
                      '<w:r><w:t>second placeholder</w:t></w:r></w:fldSimple>' % nsdecls("w"))
    doc.add_paragraph()._p.append(field)
    table = doc.add_table(rows=3, cols=2)
    table.style = "Table Grid"
    for i, row in enumerate(table.rows):
        row.cells[0].text, row.cells[1].text = f"Row {{i}}", str(i * 10)
    return doc
'''
    drawn = _drawn(ctx, "docx", code)
    assert "Jail report" in drawn and "blocked" in drawn
    assert "root:x" not in drawn and "HOSTSECRET" not in drawn and "daemon:" not in drawn


class _Hits(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Hits.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"HTTPLEAK")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server():
    _Hits.hits = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hits)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.mark.browser
def test_svg_cannot_load_host_files_or_reach_the_network(ctx, server, secret):
    svg = f'''<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="700" height="400">
<rect width="700" height="400" fill="#eef3f8"/><rect x="20" y="20" width="300" height="200" fill="#4C72B0"/>
<text x="30" y="260" font-size="20">SVG jail page</text>
<image href="{server}/svg-image.png" x="0" y="0" width="50" height="50"/>
<image xlink:href="file:///etc/passwd" x="60" y="0" width="50" height="50"/>
<foreignObject x="350" y="20" width="330" height="300"><iframe xmlns="http://www.w3.org/1999/xhtml"
  src="file:///etc/passwd" width="320" height="140"></iframe><iframe xmlns="http://www.w3.org/1999/xhtml"
  src="file://{secret}" width="320" height="140"></iframe></foreignObject>
<script>fetch("{server}/svg-fetch").then(r => r.text()).then(t => {{
  document.querySelector("text").textContent = t; }}).catch(e => {{
  document.querySelector("text").textContent = "fetch blocked"; }});</script>
</svg>'''
    drawn = _drawn(ctx, "svg", svg)
    assert _Hits.hits == [] and ("SVG jail page" in drawn or "fetch blocked" in drawn)
    assert "HTTPLEAK" not in drawn and "root:x" not in drawn and "HOSTSECRET" not in drawn


@pytest.mark.browser
def test_web_screen_cannot_reach_the_network(ctx, server):
    page = f'''<!DOCTYPE html><html><head><link rel="stylesheet" href="{server}/style.css">
<style>@import url("{server}/import.css"); body {{ background: #f6f8fa; font: 18px sans-serif; }}</style></head>
<body><h1 id="t">Screen jail page</h1><img src="{server}/img.png"><iframe src="{server}/frame"></iframe>
<div style="height:300px;background:#1f6feb;color:#fff">panel</div>
<script>fetch("{server}/fetch").then(r => r.text()).then(t => {{ document.getElementById("t").textContent = t; }});
navigator.sendBeacon && navigator.sendBeacon("{server}/beacon", "x");</script></body></html>'''
    drawn = _drawn(ctx, "webscreen", page)
    assert "Screen jail page" in drawn and "HTTPLEAK" not in drawn
    assert _Hits.hits == [], _Hits.hits


def test_llm_data_cannot_smuggle_a_path_into_the_docx_job(ctx):
    """The data file is written next to the code by name; a JSON value naming a host path is just text."""
    code = ('from docx import Document\n\ndef generate_document(data):\n    doc = Document()\n'
            '    doc.add_paragraph("Path: " + data["path"])\n    doc.add_paragraph(open(data["path"]).read()[:40] '
            'if __import__("os").path.exists(data["path"]) else "missing")\n'
            '    t = doc.add_table(rows=4, cols=3)\n    t.style = "Table Grid"\n    return doc\n')
    drawn = _drawn(ctx, "docx", code, json.dumps({"path": "/etc/passwd"}))
    assert "missing" in drawn and "root:x" not in drawn
