"""DOCX documents built with python-docx: ``generate_document(data) -> docx.Document``.

The writer formats every string the page shows (fields, cells, totals) and hard-codes them in the code,
the same strings the QA answers use; the code lays them out: a coloured title, a badge line, a field
table, an item table with a shaded header and striped rows, a total and a note.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from generators.docs.data import DocData, TableData
from generators.docs.templates.pages import total_line

FONTS = ("DejaVu Sans", "DejaVu Serif", "Liberation Sans", "Liberation Serif", "Latin Modern Roman")

CODE = '''from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

PAGE = {page!r}


def shade(cell, fill):
    props = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:fill"), fill)
    props.append(shd)


def generate_document(data):
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21), Cm(29.7)
    sec.left_margin = sec.right_margin = sec.top_margin = sec.bottom_margin = Cm({margin})
    normal = doc.styles["Normal"]
    normal.font.name = {font!r}
    normal.font.size = Pt({size})
    title = doc.add_paragraph()
    title.alignment = {align}
    run = title.add_run(PAGE["title"])
    run.bold = True
    run.font.size = Pt({tsize})
    run.font.color.rgb = RGBColor.from_string({accent!r})
    if PAGE["badge"]:
        badge = doc.add_paragraph().add_run(PAGE["badge"])
        badge.italic = True
        badge.font.size = Pt({size} + 2)
    if PAGE["fields"]:
        ft = doc.add_table(rows=0, cols=2)
        for key, value in PAGE["fields"]:
            row = ft.add_row().cells
            row[0].text, row[1].text = key + ":", value
            row[0].paragraphs[0].runs[0].bold = True
        doc.add_paragraph()
    table = doc.add_table(rows=1, cols=len(PAGE["header"]))
    table.style = {tstyle!r}
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, PAGE["header"]):
        cell.text = text
        cell.paragraphs[0].runs[0].bold = True
        cell.paragraphs[0].runs[0].font.color.rgb = RGBColor(255, 255, 255)
        shade(cell, {accent!r})
    for i, values in enumerate(PAGE["rows"]):
        cells = table.add_row().cells
        for j, (cell, text) in enumerate(zip(cells, values)):
            cell.text = text
            if j:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if i % 2:
                shade(cell, {stripe!r})
    if PAGE["total"]:
        total = doc.add_paragraph()
        total.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        run = total.add_run(PAGE["total"])
        run.bold = True
        run.font.size = Pt({size} + 2)
    if PAGE["note"]:
        doc.add_paragraph().add_run(PAGE["note"]).italic = True
    return doc
'''


def _table(t: TableData) -> tuple[list[str], list[list[str]]]:
    header = [t.label or "Item", *[t.header(j) for j in range(len(t.columns))]]
    rows = [[str(r[0]), *[t.cell(i, j) for j in range(len(t.columns))]] for i, r in enumerate(t.rows)]
    return header, rows


def write_docx(figure_type: str, data: Any, rng: np.random.Generator, st: dict[str, Any]) -> str:
    if isinstance(data, DocData):
        header, rows = _table(data.items)
        page = {"title": data.title, "badge": data.kind.title(), "fields": [[k, v] for k, v in data.fields.items()],
                "header": header, "rows": rows, "total": total_line(data) if data.total else "", "note": data.note}
    else:
        header, rows = _table(data)
        note = f"Values as reported for {data.label.lower()} entries." if rng.random() < 0.5 else ""
        page = {"title": data.title, "badge": "", "fields": [], "header": header, "rows": rows, "total": "",
                "note": note}
    accent = st["palette"][0].lstrip("#").upper()
    stripe = str(rng.choice(["EEF3F8", "F2F2F2", "FBF6EF", "EEF7EE"]))
    margin = round(float(rng.uniform(1.5, 2.5)), 1)
    line_pt = (21 - 2 * margin) * 28.35  # the text width in points: keep the title on one line
    tsize = min(int(rng.integers(18, 25)), int(line_pt / (0.62 * max(1, len(page["title"])))))
    return CODE.format(page=page, margin=margin, font=str(rng.choice(FONTS)),
                       size=int(rng.integers(10, 13)), tsize=tsize, accent=accent, stripe=stripe,
                       align=str(rng.choice(["WD_ALIGN_PARAGRAPH.LEFT", "WD_ALIGN_PARAGRAPH.CENTER"])),
                       tstyle=str(rng.choice(["Table Grid", "Light Grid Accent 1", "Light List Accent 1",
                                              "Medium Shading 1 Accent 1"])))
