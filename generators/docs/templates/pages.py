"""LaTeX (article class; booktabs, multirow, amsmath) and HTML templates: tables, documents, a CSS bar chart."""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from generators.docs.data import DocData, TableData, fmt

_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex(s: Any) -> str:
    return "".join(_TEX.get(c, c) for c in str(s))


def _rgb(hexcolor: str) -> str:
    h = hexcolor.lstrip("#")
    return ",".join(f"{int(h[i:i + 2], 16) / 255:.3f}" for i in (0, 2, 4))


def _tex_rows(t: TableData) -> list[list[str]]:
    return [[tex(r[0]), *[t.cell(i, j) for j in range(len(t.columns))]] for i, r in enumerate(t.rows)]


def _tex_tabular(t: TableData, layout: str) -> str:
    n = len(t.columns)
    head = [tex(t.label), *[r"\textbf{" + tex(t.header(j)) + "}" for j in range(n)]]
    head[0] = r"\textbf{" + head[0] + "}"
    rows = _tex_rows(t)
    if layout == "grid table":
        spec = "|l|" + "r|" * n
        body = [r"\hline", " & ".join(head) + r" \\ \hline\hline"] + [" & ".join(r) + r" \\ \hline" for r in rows]
    elif layout == "two-part table":
        spec = "l" + "r" * n
        half = (len(rows) + 1) // 2
        body = [r"\hline", " & ".join(head) + r" \\ \hline"] + [" & ".join(r) + r" \\" for r in rows[:half]]
        body += [r"\hline"] + [" & ".join(r) + r" \\" for r in rows[half:]] + [r"\hline"]
    elif layout == "booktabs table":
        spec = "l" + "r" * n
        body = [r"\toprule", " & ".join(head) + r" \\ \midrule"] + [" & ".join(r) + r" \\" for r in rows]
        body += [r"\bottomrule"]
    elif layout == "multirow table":  # the label header spans two header rows, the group header all columns
        spec = "l" + "r" * n
        group = tex(t.measure + (f" ({t.units[0]})" if t.units[0] else "")) if t.measure else "Reported values"
        cols = [tex(t.columns[j] if t.measure else t.header(j)) for j in range(n)]
        body = [r"\toprule", rf"\multirow{{2}}{{*}}{{{head[0]}}} & \multicolumn{{{n}}}{{c}}{{\textbf{{{group}}}}} \\",
                rf"\cmidrule(lr){{2-{n + 1}}} & " + " & ".join(cols) + r" \\ \midrule"]
        body += [" & ".join(r) + r" \\" for r in rows] + [r"\bottomrule"]
    else:  # ruled
        spec = "l" + "r" * n
        body = [r"\hline\hline", " & ".join(head) + r" \\ \hline"] + [" & ".join(r) + r" \\" for r in rows]
        body += [r"\hline\hline"]
    return "\\begin{tabular}{" + spec + "}\n" + "\n".join(body) + "\n\\end{tabular}"


def _tex_doc(body: str, title: str, st: dict[str, Any], rng: np.random.Generator, packages: str = "") -> str:
    """A page with a title banner; ``packages``: extra \\usepackage lines (each ending in a newline)."""
    font = str(rng.choice(["", r"\renewcommand{\familydefault}{\sfdefault}", r"\renewcommand{\familydefault}{\ttdefault}"]))
    size = str(rng.choice([r"\normalsize", r"\large"]))
    accent = st["palette"][int(rng.integers(0, 5))]
    tint = st["bg"] if st["bg"] != "#ffffff" else "#eef3f8"
    return rf"""\documentclass[11pt]{{article}}
\usepackage[margin=2cm]{{geometry}}
\usepackage{{color}}
\usepackage{{array}}
{packages}\definecolor{{accent}}{{rgb}}{{{_rgb(accent)}}}
\definecolor{{tint}}{{rgb}}{{{_rgb(tint)}}}
{font}
\pagestyle{{empty}}
\setlength{{\fboxsep}}{{12pt}}
\begin{{document}}
\noindent\colorbox{{tint}}{{\begin{{minipage}}{{0.9\textwidth}}
\colorbox{{accent}}{{\parbox{{\dimexpr\linewidth-24pt}}{{\centering\color{{white}}\Large\textbf{{{tex(title)}}}}}}}
\par\bigskip{size}
{body}
\end{{minipage}}}}
\end{{document}}
"""


def write_latex(figure_type: str, data: Any, rng: np.random.Generator, st: dict[str, Any]) -> str:
    if isinstance(data, DocData):
        fields = "\n".join(rf"\textbf{{{tex(k)}:}} & {tex(v)} \\" for k, v in data.fields.items())
        table = _tex_tabular(data.items, str(rng.choice(["ruled table", "grid table"])))
        total = (rf"\begin{{flushright}}\textbf{{{tex(total_line(data))}}}\end{{flushright}}" + "\n\n") if data.total else ""
        body = (rf"{{\large\textsc{{{tex(data.kind.title())}}}}}\par\medskip" + "\n"
                + rf"\begin{{tabular}}{{ll}}{fields}\end{{tabular}}" + "\n\n\\bigskip\n\\begin{center}\n" + table
                + "\n\\end{center}\n\n" + total + rf"\emph{{{tex(data.note)}}}")
        return _tex_doc(body, data.title, st, rng)
    body = "\\begin{center}\n" + _tex_tabular(data, figure_type) + "\n\\end{center}"
    packages = "\\usepackage{booktabs}\n\\usepackage{multirow}\n" if figure_type in ("booktabs table", "multirow table") else ""
    if rng.random() < 0.5:
        body += "\n\n\\smallskip\\noindent\\small Values as reported for " + tex(data.label.lower()) + " entries."
    return _tex_doc(body, data.title, st, rng, packages)


def total_line(d: DocData) -> str:
    """"Amount due: $1234.50", "Total time: 185 min"."""
    unit = d.extra.get("total_unit", "")
    value = f"${d.total}" if unit == "$" else f"{d.total} {unit}".strip()
    return f"{d.extra.get('total_label') or 'Total'}: {value}"


# -- HTML --------------------------------------------------------------------------------------------
def _e(s: Any) -> str:
    return html.escape(str(s))


def _html_table(t: TableData, cls: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in [t.label, *[t.header(j) for j in range(len(t.columns))]])
    rows = "".join("<tr><td>" + _e(r[0]) + "</td>" + "".join(f"<td class='num'>{t.cell(i, j)}</td>"
                                                             for j in range(len(t.columns))) + "</tr>"
                   for i, r in enumerate(t.rows))
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _page(title: str, body: str, css: str, st: dict[str, Any], width: int) -> str:
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{_e(title)}</title>
<style>
body {{ margin: 0; padding: 28px; background: {st['bg']}; font-family: '{st['font']}', sans-serif; color: #222; }}
.wrap {{ max-width: {width}px; margin: 0 auto; background: #fff; padding: 26px 32px; border-radius: 10px;
        box-shadow: 0 2px 10px rgba(0,0,0,.12); }}
h1 {{ margin: 0 0 18px; font-size: 26px; color: {st['palette'][0]}; border-bottom: 3px solid {st['palette'][1]};
      padding-bottom: 8px; }}
table {{ border-collapse: collapse; width: 100%; font-size: 15px; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
{css}
</style></head>
<body><div class="wrap"><h1>{_e(title)}</h1>
{body}
</div></body></html>
"""


TABLE_CSS = {
    "striped table": "th {{ background: {c}; color: #fff; padding: 9px 12px; text-align: left; }}\n"
                     "td {{ padding: 8px 12px; }} tr:nth-child(even) td {{ background: {bg2}; }}",
    "card table": "th {{ color: {c}; text-transform: uppercase; font-size: 12px; letter-spacing: 1px; padding: 10px; "
                  "border-bottom: 2px solid {c}; text-align: left; }}\ntd {{ padding: 10px; border-bottom: 1px solid #ddd; }}",
    "minimal table": "th, td {{ border: 1px solid #999; padding: 7px 10px; }} th {{ background: {bg2}; text-align: left; }}",
}


def _doc_html(d: DocData, st: dict[str, Any], rng: np.random.Generator) -> tuple[str, str]:
    c = st["palette"][int(rng.integers(0, 5))]
    fields = "".join(f"<div><span class='k'>{_e(k)}:</span> {_e(v)}</div>" for k, v in d.fields.items())
    items = _html_table(d.items, "items")
    css = (f".fields {{ display: grid; grid-template-columns: 1fr 1fr; gap: 6px 24px; margin-bottom: 18px; }}\n"
           f".k {{ font-weight: bold; color: {c}; }}\n"
           f".items th {{ background: {c}; color: #fff; padding: 8px; text-align: left; }}\n"
           f".items td {{ padding: 7px 8px; border-bottom: 1px solid #e3e3e3; }}\n"
           f".total {{ text-align: right; font-size: 19px; margin-top: 14px; font-weight: bold; }}\n"
           f".note {{ margin-top: 16px; font-style: italic; color: #555; }}\n"
           f".badge {{ display: inline-block; background: {c}; color: #fff; padding: 3px 10px; border-radius: 12px; "
           f"font-size: 13px; margin-bottom: 12px; }}")
    total = f"<div class='total'>{_e(total_line(d))}</div>" if d.total else ""
    body = (f"<div class='badge'>{_e(d.kind.title())}</div><div class='fields'>{fields}</div>{items}"
            f"{total}<div class='note'>{_e(d.note)}</div>")
    return body, css


def _css_bars(t: TableData, st: dict[str, Any]) -> tuple[str, str]:
    vals = t.column(0)
    top = max(vals) or 1
    rows = "".join(
        f"<div class='row'><span class='lab'>{_e(r[0])}</span><div class='bar' style='width:{max(2, 70 * r[1] / top):.1f}%;"
        f"background:{st['palette'][i % len(st['palette'])]}'></div><span class='val'>{fmt(r[1], t.decimals[0])}</span></div>"
        for i, r in enumerate(t.rows))
    css = (".row { display: flex; align-items: center; margin: 10px 0; }\n"
           ".lab { width: 170px; font-size: 15px; } .bar { height: 26px; border-radius: 4px; }\n"
           ".val { margin-left: 10px; font-weight: bold; } .axis { color: #666; font-size: 13px; margin-top: 8px; }")
    return rows + f"<div class='axis'>{_e(t.header(0))} by {_e(t.label.lower())}</div>", css


def write_html(figure_type: str, data: Any, rng: np.random.Generator, st: dict[str, Any]) -> str:
    width = int(rng.integers(640, 900))
    if isinstance(data, DocData):
        body, css = _doc_html(data, st, rng)
        return _page(data.title, body, css, st, width)
    if figure_type == "css bar chart":
        body, css = _css_bars(data, st)
        return _page(data.title, body, css, st, width)
    css = TABLE_CSS[figure_type].format(c=st["palette"][int(rng.integers(0, 5))], bg2="#f0f3f8")
    caption = f"<p style='color:#666;font-size:13px'>Source: {_e(data.label)} records.</p>" if rng.random() < 0.5 else ""
    return _page(data.title, _html_table(data, "t") + caption, css, st, width)
