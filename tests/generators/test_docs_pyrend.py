"""The renderers of renderers_py.py (SchemDraw, RDKit, DOCX via LibreOffice, SVG, web screens) and the
added Mermaid kinds: each renders offline documents to PNGs that pass the image checks, its QA is kept
only where the image shows the evidence, and what the renderer reports as drawn is really in the image
(checked with Tesseract OCR, independently of the renderer's own report)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import unicodedata
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from generators.docs import templates
from generators.docs.config import DocsConfig, load_personas
from generators.docs.evidence import legible_text, missing
from generators.docs.pipeline import plan_job, run_offline
from generators.docs.qa import MIN_QA
from generators.docs.renderers import RENDERERS, RenderContext, check_image
from generators.docs.sandbox import Limits
from generators.docs.templates.circuits import Circuit, circuit_qa
from generators.docs.templates.molecules import MOLECULES, atom_counts

NEW = [(r, c, f) for r in ("schemdraw", "rdkit", "docx", "svg", "webscreen")
       for c, figs in templates.FIGURES[r].items() for f in figs]
MERMAID = [("mermaid", "diagrams", f) for f in ("sequence", "class", "er", "mindmap", "gantt", "timeline")]
MERMAID.append(("mermaid", "charts", "xychart"))


@pytest.fixture(scope="module")
def ctx():
    c = RenderContext(Limits(timeout=40.0))
    yield c
    c.close()


def _render(ctx, renderer, category, figure_type, seed=11, index=0):
    cfg = DocsConfig(renderers=(renderer,))
    job = replace(plan_job(cfg, load_personas(), seed, index), category=category, figure_type=figure_type)
    return run_offline(cfg, job, ctx)


def _norm(s):
    """Letters and digits only, OCR's usual confusions folded (0/o, 1/l/i, 5/s, 8/b)."""
    s = re.sub(r"[^0-9a-z]", "", unicodedata.normalize("NFKC", s).casefold())
    return s.translate(str.maketrans("01i58", "ollsb"))


def _ocr(png):
    if not shutil.which("tesseract"):
        pytest.skip("tesseract is not installed")
    r = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "12"], input=png, capture_output=True, timeout=60)
    return _norm(r.stdout.decode(errors="replace"))


def check_document(done):
    assert done.ok, done.error
    im = Image.open(io.BytesIO(done.image))
    assert im.format == "PNG" and min(im.size) >= 128 and im.width * im.height <= 2560 * 1440
    assert check_image(done.image)  # the stored image passes the checks again
    assert len(done.qa) >= MIN_QA
    texts = legible_text(done.drawn)
    for (q, _, _), ev in zip(done.qa, done.evidence, strict=True):
        assert not missing(ev, texts), (q, ev)
    assert done.drawn, "the renderer reported no drawn text"


@pytest.mark.browser
@pytest.mark.parametrize(("renderer", "category", "figure_type"), NEW, ids=[f"{r}-{f}" for r, _, f in NEW])
def test_new_renderers_draw_offline_documents_whose_answers_are_in_the_image(ctx, renderer, category, figure_type):
    done = _render(ctx, renderer, category, figure_type)
    check_document(done)
    if renderer in ("schemdraw", "rdkit", "docx"):  # evidence from matplotlib or pdftotext: OCR the pixels
        seen = _ocr(done.image)
        pieces = {p for ev in done.evidence for p in ev if len(_norm(p)) >= 3}
        found = [p for p in pieces if _norm(p) in seen]
        assert len(pieces) >= 3 and len(found) >= 0.6 * len(pieces), (sorted(set(pieces) - set(found)), seen[:400])


@pytest.mark.browser
@pytest.mark.parametrize(("renderer", "category", "figure_type"), MERMAID, ids=[f for _, _, f in MERMAID])
def test_added_mermaid_kinds_render_with_drawn_answers(ctx, renderer, category, figure_type):
    done = _render(ctx, renderer, category, figure_type)
    check_document(done)
    head = {"sequence": "sequenceDiagram", "class": "classDiagram", "er": "erDiagram", "mindmap": "mindmap",
            "gantt": "gantt", "timeline": "timeline", "xychart": "xychart-beta"}[figure_type]
    assert re.search(rf"^{head}\b", done.code, re.M), done.code[:200]


def test_molecule_facts_match_rdkit():
    """Every fact the molecule QA answers from the table (formula, molar mass, heavy atoms, rings) is what
    RDKit computes from the SMILES the image is drawn from."""
    Chem = pytest.importorskip("rdkit.Chem")
    from rdkit.Chem import Descriptors, rdMolDescriptors

    assert len({m[0] for m in MOLECULES}) == len(MOLECULES) >= 25
    for name, smiles, formula, mass, heavy, rings, _ in MOLECULES:
        mol = Chem.MolFromSmiles(smiles)
        assert rdMolDescriptors.CalcMolFormula(mol) == formula, name
        assert f"{Descriptors.MolWt(mol):.2f}" == f"{mass:.2f}", name
        assert mol.GetNumHeavyAtoms() == heavy and rdMolDescriptors.CalcNumRings(mol) == rings, name
        counts = atom_counts(formula)
        for el in ("C", "N", "O"):
            assert counts.get(el, 0) == sum(a.GetSymbol() == el for a in mol.GetAtoms()), (name, el)


def test_circuit_totals_follow_ohms_law():
    rng = np.random.default_rng(0)
    series = Circuit("t", "series", ["V1", "5 V"], [["R1", "R", "1 kΩ", 1000.0], ["R2", "R", "2.2 kΩ", 2200.0]])
    parallel = replace(series, layout="parallel")
    total = {q: a for q, a, _ in circuit_qa(series, rng)}["What is the total resistance of the 2 resistors?"]
    assert total == "3.2 kΩ"
    total = {q: a for q, a, _ in circuit_qa(parallel, rng)}["What is the total resistance of the 2 resistors?"]
    assert total == "688 Ω"  # 1 / (1/1000 + 1/2200) = 687.5
    qa = {q: a for q, a, _ in circuit_qa(parallel, rng)}
    assert qa["Are R1 and R2 connected in series or in parallel?"] == "Parallel"
    assert qa["How many resistors does the circuit have?"] == "2"


def test_new_renderers_are_registered_with_their_templates():
    for name in ("schemdraw", "rdkit", "docx", "svg", "webscreen"):
        r = RENDERERS[name]
        assert set(r.categories) == set(templates.FIGURES[name]) and name in templates.WRITERS
        assert set(r.categories) <= {"charts", "tables", "diagrams", "other"}


def test_svg_page_takes_the_size_of_the_svg():
    from generators.docs.renderers_py import svg_page
    from generators.docs.sandbox import RenderError

    page, w, h = svg_page('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">'
                          "<text x='10' y='20'>hi</text></svg>")
    assert (w, h) == (640, 480) and page.count("<svg") == 1 and "<?xml" not in page
    assert svg_page('<svg viewBox="0 0 300 150"></svg>')[1:] == (300, 150)
    with pytest.raises(RenderError, match="<svg"):
        svg_page("<html><body>not svg</body></html>")


@pytest.mark.browser
@pytest.mark.slow
def test_same_seed_gives_the_same_images_for_the_new_renderers():
    """Two shards of the same seed (documents in flight in 3 threads): identical image bytes, LibreOffice's
    DOCX pages and RDKit depictions included."""
    from generators.docs.config import RenderOptions
    from generators.docs.pipeline import make_shard
    from generators.runner import plan_tasks

    cfg = DocsConfig(renderers=("schemdraw", "rdkit", "docx", "svg", "webscreen"))
    runs = [make_shard(cfg, plan_tasks(list(range(5)), 5, 4)[0], RenderOptions(threads=3, timeout=40.0))
            for _ in range(2)]
    assert runs[0].stats["rejected"] == 0, runs[0].stats["rejections"]
    assert [s.key for s in runs[0].samples] == [s.key for s in runs[1].samples]
    assert {s.annotations[0].meta["renderer"] for s in runs[0].samples} == set(cfg.renderers)


@pytest.mark.parametrize("module", ["generators.docs.renderers_py", "generators.docs.points_svg",
                                    "generators.docs.renderers", "generators.docs.renderers_tex"])
def test_registry_is_complete_whichever_module_is_imported_first(module):
    """renderers.py imports renderers_py last, and renderers_py imports renderers: importing renderers_py
    first used to fail with a circular ImportError, and gave another registry order (so another plan)."""
    import sys

    code = f"import {module}; from generators.docs.renderers import RENDERERS; print(','.join(RENDERERS))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    assert r.stdout.split()[-1].split(",") == ["matplotlib", "plotly", "vegalite", "latex", "html", "mermaid",
                                               "graphviz", "schemdraw", "rdkit", "docx", "svg", "webscreen",
                                               "tikz", "asymptote", "lilypond"]
