"""RDKit molecules: one compound sheet (drawing + properties) or a grid of 2-4 labelled molecules.

The molecule table holds each compound's SMILES and the facts the QA asks about (formula, molar mass,
heavy atoms, rings); ``tests/generators/test_docs_pyrend.py`` recomputes every fact with RDKit. The
code draws each molecule with RDKit and lays the page out with matplotlib, so the names, formulas and
properties it prints are reported as drawn text (evidence); atom counts are read from the formula.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from generators.docs.qa import QA, UNANSWERABLE, _mc

# name, SMILES, formula, molar mass (g/mol), heavy atoms, rings, what it is
MOLECULES: tuple[tuple[str, str, str, float, int, int, str], ...] = (
    ("Caffeine", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "C8H10N4O2", 194.19, 14, 2, "stimulant"),
    ("Aspirin", "CC(=O)OC1=CC=CC=C1C(=O)O", "C9H8O4", 180.16, 13, 1, "pain reliever"),
    ("Paracetamol", "CC(=O)NC1=CC=C(C=C1)O", "C8H9NO2", 151.16, 11, 1, "pain reliever"),
    ("Ibuprofen", "CC(C)CC1=CC=C(C=C1)C(C)C(=O)O", "C13H18O2", 206.28, 15, 1, "anti-inflammatory"),
    ("Ethanol", "CCO", "C2H6O", 46.07, 3, 0, "solvent"),
    ("Glucose", "C(C1C(C(C(C(O1)O)O)O)O)O", "C6H12O6", 180.16, 12, 1, "sugar"),
    ("Nicotine", "CN1CCCC1C2=CN=CC=C2", "C10H14N2", 162.24, 12, 2, "alkaloid"),
    ("Vanillin", "COC1=C(C=CC(=C1)C=O)O", "C8H8O3", 152.15, 11, 1, "flavouring"),
    ("Dopamine", "C1=CC(=C(C=C1CCN)O)O", "C8H11NO2", 153.18, 11, 1, "neurotransmitter"),
    ("Serotonin", "C1=CC2=C(C=C1O)C(=CN2)CCN", "C10H12N2O", 176.22, 13, 2, "neurotransmitter"),
    ("Adrenaline", "CNCC(C1=CC(=C(C=C1)O)O)O", "C9H13NO3", 183.21, 13, 1, "hormone"),
    ("Capsaicin", "CC(C)/C=C/CCCCC(=O)NCC1=CC(=C(C=C1)O)OC", "C18H27NO3", 305.42, 22, 1, "pungent compound"),
    ("Menthol", "CC1CCC(C(C1)O)C(C)C", "C10H20O", 156.27, 11, 1, "cooling agent"),
    ("Citric acid", "C(C(=O)O)C(CC(=O)O)(C(=O)O)O", "C6H8O7", 192.12, 13, 0, "food acid"),
    ("Acetone", "CC(=O)C", "C3H6O", 58.08, 4, 0, "solvent"),
    ("Urea", "C(=O)(N)N", "CH4N2O", 60.06, 4, 0, "fertilizer"),
    ("Toluene", "CC1=CC=CC=C1", "C7H8", 92.14, 7, 1, "solvent"),
    ("Phenol", "C1=CC=C(C=C1)O", "C6H6O", 94.11, 7, 1, "disinfectant"),
    ("Salicylic acid", "C1=CC=C(C(=C1)C(=O)O)O", "C7H6O3", 138.12, 10, 1, "skin treatment"),
    ("Naphthalene", "C1=CC=C2C=CC=CC2=C1", "C10H8", 128.17, 10, 2, "moth repellent"),
    ("Lactic acid", "CC(C(=O)O)O", "C3H6O3", 90.08, 6, 0, "food acid"),
    ("Glycine", "C(C(=O)O)N", "C2H5NO2", 75.07, 5, 0, "amino acid"),
    ("Alanine", "CC(C(=O)O)N", "C3H7NO2", 89.09, 6, 0, "amino acid"),
    ("Histamine", "C1=C(NC=N1)CCN", "C5H9N3", 111.15, 8, 1, "immune signal"),
    ("Melatonin", "CC(=O)NCCC1=CNC2=C1C=C(C=C2)OC", "C13H16N2O2", 232.28, 17, 2, "hormone"),
    ("Theobromine", "CN1C=NC2=C1C(=O)NC(=O)N2C", "C7H8N4O2", 180.17, 13, 2, "stimulant"),
    ("Cinnamaldehyde", "C1=CC=C(C=C1)/C=C/C=O", "C9H8O", 132.16, 10, 1, "flavouring"),
    ("Limonene", "CC1=CCC(CC1)C(=C)C", "C10H16", 136.24, 10, 1, "fragrance"),
)
ELEMENTS = {"C": "carbon", "H": "hydrogen", "N": "nitrogen", "O": "oxygen"}


def atom_counts(formula: str) -> dict[str, int]:
    """{"C": 8, "H": 10, "N": 4, "O": 2} from "C8H10N4O2"."""
    return {el: int(n or 1) for el, n in re.findall(r"([A-Z][a-z]?)(\d*)", formula)}


@dataclass
class MoleculeSheet:
    title: str
    layout: str  # card | grid
    molecules: list[dict[str, Any]]  # name, smiles, formula, mass, heavy_atoms, rings, use

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def sample_sheet(rng: np.random.Generator, org: str, layout: str) -> MoleculeSheet:
    k = 1 if layout == "card" else int(rng.integers(2, 5))
    picks = rng.choice(len(MOLECULES), size=k, replace=False)
    mols = [dict(zip(("name", "smiles", "formula", "mass", "heavy_atoms", "rings", "use"), MOLECULES[int(i)],
                     strict=True)) for i in picks]
    names = [str(m["name"]) for m in mols]
    title = f"{org} compound sheet: {names[0]}" if k == 1 else f"{org}: {', '.join(names[:-1])} and {names[-1]}"
    return MoleculeSheet(title, layout, mols)


def card_qa(m: dict[str, Any], title: str, rng: np.random.Generator) -> list[QA]:
    counts = atom_counts(m["formula"])
    el = str(rng.choice([e for e in ("C", "N", "O") if e in counts] or ["C"]))
    has_n = "N" in counts
    return [("What is the title of the sheet?", title, (title,)),
            ("Which molecule is shown?", m["name"], (m["name"],)),
            (f"What is the molecular formula of {m['name']}?", m["formula"], (m["formula"],)),
            ("What is the molar mass of the molecule in g/mol?", f"{m['mass']:.2f}", (f"{m['mass']:.2f}",)),
            (f"How many {ELEMENTS[el]} atoms does the molecule have?", str(counts[el]), (m["formula"],)),
            ("How many heavy (non-hydrogen) atoms does the molecule have?", str(m["heavy_atoms"]),
             (str(m["heavy_atoms"]),)),
            ("How many rings does the molecule contain?", str(m["rings"]), (m["name"],)),
            ("Does the molecule contain nitrogen?", "Yes" if has_n else "No", (m["formula"],)),
            (f"What is {m['name']} used as?", m["use"], (m["use"],)),
            (f"What is the melting point of {m['name']}?", UNANSWERABLE, (m["name"],))]


def grid_qa(s: MoleculeSheet, rng: np.random.Generator) -> list[QA]:
    mols = s.molecules
    names = [str(m["name"]) for m in mols]
    masses = [m["mass"] for m in mols]
    m = mols[int(rng.integers(len(mols)))]
    carbons = [atom_counts(x["formula"]).get("C", 0) for x in mols]
    qa: list[QA] = [("What is the title of the figure?", s.title, (s.title,)),
                    ("How many molecules are shown?", str(len(mols)), tuple(names)),
                    (f"What is the molecular formula of {m['name']}?", m["formula"], (m["name"], m["formula"])),
                    ("Which molecule has the highest molar mass?", names[int(np.argmax(masses))],
                     tuple(x for mm in mols for x in (mm["name"], f"{mm['mass']:.2f}"))),
                    ("Which molecule has the lowest molar mass?", names[int(np.argmin(masses))],
                     tuple(x for mm in mols for x in (mm["name"], f"{mm['mass']:.2f}"))),
                    (f"What is the molar mass of {m['name']} in g/mol?", f"{m['mass']:.2f}",
                     (m["name"], f"{m['mass']:.2f}"))]
    if carbons.count(max(carbons)) == 1:
        qa.append(("Which molecule has the most carbon atoms?", names[int(np.argmax(carbons))],
                   tuple(x for mm in mols for x in (mm["name"], mm["formula"]))))
    absent = next(x[0] for x in MOLECULES if x[0] not in names)
    mc = _mc(rng, "Which of these molecules is NOT shown?", absent, [*names, absent], tuple(names))
    if mc:
        qa.append(mc)
    qa.append((f"Who discovered {m['name']}?", UNANSWERABLE, (m["name"],)))
    return qa


CODE = '''import io

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from rdkit import Chem
from rdkit.Chem import rdDepictor
from rdkit.Chem.Draw import rdMolDraw2D


def draw(smiles, size):
    mol = Chem.MolFromSmiles(smiles)
    rdDepictor.Compute2DCoords(mol)
    d = rdMolDraw2D.MolDraw2DCairo(size, size)
    opts = d.drawOptions()
    opts.setBackgroundColour({bg_rgb!r})
    opts.bondLineWidth = {bond}
    {palette}
    d.DrawMolecule(mol)
    d.FinishDrawing()
    return np.asarray(Image.open(io.BytesIO(d.GetDrawingText())).convert("RGB"))


def generate_diagram(data):
    plt.rcParams["font.family"] = {font!r}
    mols = data["molecules"]
    if data["layout"] == "card":
        m = mols[0]
        fig = plt.figure(figsize=({w}, {h}), dpi={dpi}, facecolor={bg!r})
        ax = fig.add_axes([0.02, 0.05, 0.55, 0.78])
        ax.imshow(draw(m["smiles"], 600))
        ax.axis("off")
        fig.text(0.5, 0.93, data["title"], ha="center", fontsize=min({tsize}, 72 * {w} * 0.9 / (0.62 * len(data["title"]))),
                 fontweight="bold", color={accent!r})
        rows = [("Name", m["name"]), ("Formula", m["formula"]), ("Molar mass", f"{{m['mass']:.2f}} g/mol"),
                ("Heavy atoms", str(m["heavy_atoms"])), ("Rings", str(m["rings"])), ("Use", m["use"])]
        for i, (k, v) in enumerate(rows):
            y = 0.74 - i * 0.1
            fig.text(0.6, y, k + ":", fontsize={size}, fontweight="bold", color={accent!r})
            fig.text(0.78, y, v, fontsize={size})
    else:
        n = len(mols)
        fig, axes = plt.subplots(1, n, figsize=({cell} * n, {cell} + 1.2), dpi={dpi}, facecolor={bg!r})
        for ax, m in zip(np.atleast_1d(axes), mols):
            ax.imshow(draw(m["smiles"], 400))
            ax.set_title(m["name"], fontsize={size} + 1, fontweight="bold", color={accent!r})
            ax.set_xlabel(f"{{m['formula']}}  |  {{m['mass']:.2f}} g/mol", fontsize={size})
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible({frame})
        fig.suptitle(data["title"], fontsize=min({tsize}, 72 * {cell} * n * 0.9 / (0.62 * len(data["title"]))),
                     fontweight="bold")
        fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
    buf.seek(0)
    return Image.open(buf)
'''


def _rgb(hexcolor: str) -> tuple[float, float, float]:
    h = hexcolor.lstrip("#")
    r, g, b = (round(int(h[i:i + 2], 16) / 255, 3) for i in (0, 2, 4))
    return r, g, b


def write_rdkit(figure_type: str, s: MoleculeSheet, rng: np.random.Generator, st: dict[str, Any]) -> str:
    font = st["font"] if st["font"] != "Latin Modern Roman" else "DejaVu Serif"
    return CODE.format(font=font, bg=st["bg"], bg_rgb=_rgb(st["bg"]), bond=round(float(rng.uniform(1.5, 3.0)), 1),
                       palette=str(rng.choice(["opts.useBWAtomPalette()", "opts.useDefaultAtomPalette()",
                                               "opts.useAvalonAtomPalette()"])),
                       w=round(float(rng.uniform(9, 11)), 1), h=round(float(rng.uniform(5, 6)), 1),
                       dpi=int(rng.choice([90, 100, 110])), tsize=int(rng.integers(15, 19)),
                       size=int(rng.integers(11, 14)), accent=st["palette"][0],
                       cell=round(float(rng.uniform(3.2, 4.0)), 1), frame=bool(rng.random() < 0.5))


def own_content(rng: np.random.Generator, org: str, figure_type: str) -> tuple[MoleculeSheet, list[QA]]:
    layout = "card" if figure_type == "compound card" else "grid"
    s = sample_sheet(rng, org, layout)
    return s, (card_qa(s.molecules[0], s.title, rng) if layout == "card" else grid_qa(s, rng))
