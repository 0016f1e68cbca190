"""Web screens: full HTML pages of an app (detail screen, form, landing page, dashboard).

Documents (``DocData``) become an app's detail screen, a form with filled-in fields or a landing page with
one card per item; tables become a dashboard (KPI cards, bars and the table). Every element a pointing
question can name carries ``data-pt="kind:name"`` (nav links, buttons, fields, rows, prices, cards):
``points_svg.py`` uses these pages as its second HTML page family.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from generators.docs.data import DocData, TableData, fmt
from generators.docs.templates.pages import total_line

NAV = ("Home", "Orders", "Reports", "Customers", "Settings", "Help", "Inbox", "Calendar", "Billing", "Team")
BUTTONS = ("Save", "Cancel", "Print", "Export", "Submit", "Edit", "Send", "Archive")
FONTS = ("Arial, sans-serif", "Georgia, serif", "'DejaVu Sans', sans-serif", "Verdana, sans-serif",
         "'Trebuchet MS', sans-serif", "'Times New Roman', serif")


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _pt(kind: str, name: str) -> str:
    return f' data-pt="{_e(kind)}:{_e(name)}"'


def chrome(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Nav links and buttons of a screen (distinct, random)."""
    nav = [str(x) for x in rng.choice(NAV, size=int(rng.integers(3, 6)), replace=False)]
    buttons = [str(x) for x in rng.choice(BUTTONS, size=int(rng.integers(1, 4)), replace=False)]
    return nav, buttons


def _css(st: dict[str, Any], rng: np.random.Generator) -> str:
    c, c2 = st["palette"][int(rng.integers(0, 4))], st["palette"][4]
    font = str(rng.choice(FONTS))
    radius = int(rng.integers(0, 12))
    return (f"*{{box-sizing:border-box}} body{{margin:0;font-family:{font};background:{st['bg']};color:#222}}"
            f" header{{background:{c};color:#fff;display:flex;align-items:center;padding:14px 24px;gap:18px}}"
            f"header .brand{{font-weight:bold;font-size:20px;margin-right:auto}} header a{{color:#fff;text-decoration:none;"
            f"font-size:15px;padding:6px 10px;border-radius:{radius}px}} header a.on{{background:rgba(255,255,255,.22)}}"
            f"main{{padding:24px 32px}} h1{{margin:0 0 6px;font-size:28px}} .badge{{display:inline-block;background:{c2};"
            f"color:#fff;padding:3px 12px;border-radius:12px;font-size:13px;margin-bottom:16px}}"
            f".card{{background:#fff;border-radius:{radius}px;box-shadow:0 1px 6px rgba(0,0,0,.12);padding:18px 22px;"
            f"margin-bottom:18px}} table{{border-collapse:collapse;width:100%}} th{{text-align:left;border-bottom:2px solid {c};"
            f"padding:8px}} td{{padding:8px;border-bottom:1px solid #e4e4e4}} td.num{{text-align:right}}"
            f".grid{{display:grid;grid-template-columns:1fr 1fr;gap:10px 28px}} .k{{color:#666;font-size:13px}}"
            f".field{{border:1px solid #aaa;border-radius:{min(radius, 6)}px;padding:8px 10px;background:#fff;margin-top:3px}}"
            f".bar{{display:flex;gap:10px;justify-content:{rng.choice(['flex-start', 'flex-end'])}}}"
            f"button{{background:{c};color:#fff;border:0;padding:10px 20px;border-radius:{radius}px;font:inherit;font-size:15px}}"
            f"button.alt{{background:#fff;color:{c};border:2px solid {c}}} .total{{font-size:19px;font-weight:bold;"
            f"text-align:right;margin-top:12px}} .note{{color:#555;font-style:italic;margin-top:10px}}"
            f".cards{{display:flex;flex-wrap:wrap;gap:16px}} .cards .card{{flex:1 1 180px;text-align:center}}"
            f".big{{font-size:26px;font-weight:bold;color:{c}}} .hero{{background:{c};color:#fff;padding:44px 32px;"
            f"text-align:center}} .hero h1{{font-size:36px}} .meter{{height:14px;background:{c2};border-radius:7px}}")


def _header(org: str, nav: list[str]) -> str:
    links = "".join(f'<a{_pt("nav", n)}{" class=on" if i == 0 else ""}>{_e(n)}</a>' for i, n in enumerate(nav))
    return f'<header><span class="brand"{_pt("brand", org)}>{_e(org)}</span>{links}</header>'


def _buttons(buttons: list[str]) -> str:
    return ('<div class="bar">' + "".join(f'<button{_pt("button", b)}{" class=alt" if i else ""}>{_e(b)}</button>'
                                          for i, b in enumerate(buttons)) + "</div>")


def _table(t: TableData) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in [t.label or "Item", *[t.header(j) for j in range(len(t.columns))]])
    last = len(t.columns) - 1
    rows = "".join(f'<tr{_pt("row", r[0])}><td>{_e(r[0])}</td>' + "".join(
        f'<td class="num"{_pt("value", r[0]) if j == last else ""}>{t.cell(i, j)}</td>' for j in range(len(t.columns)))
        + "</tr>" for i, r in enumerate(t.rows))
    return f"<table><tr>{head}</tr>{rows}</table>"


def _doc_body(layout: str, d: DocData) -> str:
    total = f'<div class="total"{_pt("total", "total")}>{_e(total_line(d))}</div>' if d.total else ""
    if layout == "form page":
        fields = "".join(f'<div><div class="k">{_e(k)}</div><div class="field"{_pt("field", k)}>{_e(v)}</div></div>'
                         for k, v in d.fields.items())
        return (f'<div class="card"><div class="grid">{fields}</div></div><div class="card">{_table(d.items)}{total}</div>')
    if layout == "landing page":
        t = d.items
        cards = "".join(f'<div class="card"{_pt("card", r[0])}><div>{_e(r[0])}</div>'
                        f'<div class="big">{t.cell(i, len(t.columns) - 1)}</div>'
                        f'<div class="k">{_e(t.header(len(t.columns) - 1))}</div></div>' for i, r in enumerate(t.rows))
        fields = " · ".join(f"{_e(k)}: {_e(v)}" for k, v in d.fields.items())
        return f'<p class="k">{fields}</p><div class="cards">{cards}</div>{total}'
    fields = "".join(f'<div><span class="k">{_e(k)}</span><br><b>{_e(v)}</b></div>' for k, v in d.fields.items())
    return f'<div class="card grid">{fields}</div><div class="card">{_table(d.items)}{total}</div>'


def _dashboard(t: TableData) -> str:
    vals = t.column(0)
    hi, lo = int(np.argmax(vals)), int(np.argmin(vals))
    kpis = [("Entries", str(len(t.rows))), (f"Highest {t.columns[0].lower()}", f"{t.labels[hi]} ({t.cell(hi, 0)})"),
            (f"Lowest {t.columns[0].lower()}", f"{t.labels[lo]} ({t.cell(lo, 0)})")]
    cards = "".join(f'<div class="card"{_pt("kpi", k)}><div class="k">{_e(k)}</div><div class="big">{_e(v)}</div></div>'
                    for k, v in kpis)
    top = max(vals) or 1
    bars = "".join(f'<div style="display:flex;align-items:center;gap:10px;margin:6px 0"><span style="width:160px">'
                   f'{_e(r[0])}</span><div class="meter"{_pt("bar", r[0])} style="width:{max(2, 60 * r[1] / top):.1f}%"></div>'
                   f"<span>{fmt(r[1], t.decimals[0])}</span></div>" for r in t.rows)
    return (f'<div class="cards">{cards}</div><div class="card"><b>{_e(t.header(0))}</b>{bars}</div>'
            f'<div class="card">{_table(t)}</div>')


def page(layout: str, data: Any, org: str, nav: list[str], buttons: list[str], st: dict[str, Any],
         rng: np.random.Generator) -> str:
    """One screen; ``layout`` is app screen, form page, landing page or dashboard."""
    css = _css(st, rng)
    if isinstance(data, DocData):
        body = _doc_body(layout, data)
        badge = f'<div class="badge"{_pt("badge", data.kind)}>{_e(data.kind.title())}</div>'
        note = f'<div class="note">{_e(data.note)}</div>'
    else:
        body, badge, note = _dashboard(data), "", ""
    title = f'<h1{_pt("title", data.title)}>{_e(data.title)}</h1>'
    if layout == "landing page":
        main = f'<div class="hero">{title}{badge}</div><main>{body}{_buttons(buttons)}{note}</main>'
    else:
        main = f"<main>{title}{badge}{body}{_buttons(buttons)}{note}</main>"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(data.title)}</title><style>{css}</style>"
            f"</head><body>{_header(org, nav)}{main}</body></html>")


def write_screen(figure_type: str, data: Any, rng: np.random.Generator, st: dict[str, Any]) -> str:
    layout = figure_type if figure_type in ("dashboard", "form page", "landing page") else "app screen"
    if isinstance(data, DocData):
        layout = str(rng.choice(["app screen", "form page", "landing page"]))
        org = data.fields.get(data.extra.get("party", ""), data.title.split(" ")[0])
    else:
        org = data.title.split(":")[0][:40]
    nav, buttons = chrome(rng)
    return page(layout, data, org, nav, buttons, st, rng)
