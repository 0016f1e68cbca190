"""Synthetic pointing from rendered pages: pixmo-points records from HTML pages whose elements we know.

Each page is an offline template (no LLM): an organisation's order page with a title, a table of
items and prices, buttons and sometimes checkboxes, drawn in a random style. Every element a question
can be about carries ``data-pt="kind:name"``; the browser reports the boxes of those elements
(getBoundingClientRect in pixels of the screenshot), scaled to the stored image after the image checks'
downscale. A question is a referring expression and the elements it matches:

- one element ("Submit button", "price of Match ball", "row labelled Match ball", "page title"):
  ``collection_method="pointing"``, one point;
- every element of a kind ("price", "button", "checkbox"): ``"counting"``, one point each, count = how many;
- something not on the page ("Delete button", "row labelled <an item not listed>", "checkbox" on a page
  without any): zero points, count 0.

A point is the centre of its element's box, after the box is clipped to the image, in percent of the
image's width and height (the unit pixmo-points stores). ``meta.boxes`` keeps each point's box in pixels.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image

from generators.docs.bank import DOMAINS, ORGS
from generators.docs.config import RenderOptions
from generators.docs.documents import GOODS
from generators.docs.renderers import RenderContext, check_image
from generators.docs.sandbox import RenderError
from generators.runner import ShardResult, ShardTask
from pixmo.records import PixmoPoints, Point
from pixmo.shards import Annotation, Sample

BUTTONS = ("Submit", "Cancel", "Add to cart", "Save", "Reset", "Back", "Checkout", "Print")
ABSENT_BUTTONS = ("Delete", "Download", "Sign up", "Share", "Refresh", "Upload")
FONTS = ("Arial, sans-serif", "Georgia, serif", "'DejaVu Sans', sans-serif", "'Courier New', monospace",
         "Verdana, sans-serif", "'Times New Roman', serif")
BUTTON_COLORS = ("#1f6feb", "#2da44e", "#d1242f", "#8250df", "#bf8700", "#0a7ea4", "#444444")
BACKGROUNDS = ("#ffffff", "#f6f8fa", "#fffaf0", "#f0f7ff", "#fbfbf5")
CURRENCIES = ("$", "€", "£")


@dataclass(frozen=True)
class Question:
    label: str  # the referring expression
    keys: tuple[str, ...]  # the data-pt values of the elements it matches (empty: not on the page)
    method: str  # "pointing" or "counting"


@dataclass(frozen=True)
class Page:
    html: str
    items: tuple[str, ...]
    buttons: tuple[str, ...]
    checkboxes: int
    width: int
    absent_item: str


def _e(s: Any) -> str:
    return html.escape(str(s))


def build_page(rng: np.random.Generator) -> Page:
    """One order page in a random style; every element a question may name carries ``data-pt``."""
    dom = DOMAINS[int(rng.integers(len(DOMAINS)))]
    first, last = ORGS[dom.name]
    org = f"{rng.choice(first)} {rng.choice(last)}"
    goods = list(GOODS[dom.name])
    order = rng.permutation(len(goods))
    n = int(rng.integers(3, 7))
    items = tuple(goods[int(i)] for i in order[:n])
    absent_item = goods[int(order[n])]
    cur = str(rng.choice(CURRENCIES))
    buttons = tuple(str(b) for b in rng.choice(BUTTONS, size=int(rng.integers(1, 4)), replace=False))
    checkboxes = int(rng.choice([0, 0, 2, 3]))
    font, color, bg = str(rng.choice(FONTS)), str(rng.choice(BUTTON_COLORS)), str(rng.choice(BACKGROUNDS))
    width = int(rng.integers(600, 900))
    stripe = str(rng.choice(["#e8eef7", "#eeeeee", "#f3ead8", "#e3f1e6"]))
    pad, size = int(rng.integers(6, 14)), int(rng.integers(14, 19))
    checkboxes = min(checkboxes, n)
    rows = []
    for i, name in enumerate(items):
        price = f"{cur}{rng.uniform(2, 250):.2f}"
        box = ""
        if checkboxes:  # a checkbox on the first rows only
            box = f'<td><input type="checkbox" data-pt="checkbox:{_e(name)}"></td>' if i < checkboxes else "<td></td>"
        rows.append(f'<tr data-pt="row:{_e(name)}">{box}<td>{_e(name)}</td>'
                    f'<td class="price" data-pt="price:{_e(name)}">{price}</td></tr>')
    head = ("<th></th>" if checkboxes else "") + "<th>Item</th><th>Price</th>"
    btns = "".join(f'<button data-pt="button:{_e(b)}">{_e(b)}</button>' for b in buttons)
    align = str(rng.choice(["left", "center", "right"]))
    css = (f"body{{margin:0;padding:{int(rng.integers(16, 32))}px;background:{bg};font-family:{font};"
           f"font-size:{size}px;color:#222;width:{width - 80}px}}"
           f"h1{{background:{color};color:#fff;padding:12px 18px;margin:0 0 8px}}"
           f"table{{border-collapse:collapse;margin:16px 0;min-width:70%}} tr:nth-child(even){{background:{stripe}}}"
           f"td,th{{padding:{pad}px {pad + 6}px;border-bottom:1px solid #ccc;text-align:left}}"
           f"td.price{{text-align:right}} .bar{{text-align:{align}}}"
           f"button{{margin:4px;padding:{pad}px {2 * pad}px;background:{color};color:#fff;border:0;"
           f"border-radius:{int(rng.integers(0, 10))}px;font:inherit}}"
           f"input[type=checkbox]{{width:18px;height:18px}}")
    body = (f'<h1 data-pt="title:{_e(org)}">{_e(org)}</h1><p>Order form. Tick what you need and press a button.</p>'
            f"<table><tr>{head}</tr>{''.join(rows)}</table><div class='bar'>{btns}</div>")
    page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{css}</style></head><body>{body}</body></html>"
    return Page(page, items, buttons, checkboxes, width, absent_item)


def questions(page: Page, rng: np.random.Generator) -> list[Question]:
    """Referring expressions for the page: single elements, counts, and things not on it."""
    item = str(rng.choice(page.items))
    button = str(rng.choice(page.buttons))
    absent_button = str(rng.choice([b for b in BUTTONS + ABSENT_BUTTONS if b not in page.buttons]))
    title = next(k for k in _keys(page.html) if k.startswith("title:"))
    return [
        Question("page title", (title,), "pointing"),
        Question(f"{button} button", (f"button:{button}",), "pointing"),
        Question(f"price of {item}", (f"price:{item}",), "pointing"),
        Question(f"row labelled {item}", (f"row:{item}",), "pointing"),
        Question("price", tuple(f"price:{i}" for i in page.items), "counting"),
        Question("button", tuple(f"button:{b}" for b in page.buttons), "counting"),
        Question("checkbox", tuple(f"checkbox:{i}" for i in page.items[: page.checkboxes]), "counting"),
        Question(f"{absent_button} button", (), "pointing"),
        Question(f"row labelled {page.absent_item}", (), "pointing"),
    ]


def _keys(page_html: str) -> list[str]:
    out, tag = [], 'data-pt="'
    for part in page_html.split(tag)[1:]:
        out.append(html.unescape(part.split('"', 1)[0]))
    return out


def centre(box: tuple[float, float, float, float], w: int, h: int) -> tuple[float, float] | None:
    """The centre of the box clipped to the image, or None when nothing of it is inside."""
    x0, y0, x1, y1 = max(box[0], 0.0), max(box[1], 0.0), min(box[2], float(w)), min(box[3], float(h))
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0 + x1) / 2, (y0 + y1) / 2


def render_page(page: Page, ctx: RenderContext) -> tuple[bytes, dict[str, tuple[float, float, float, float]]]:
    """The stored PNG and each marked element's box in its pixels (after the checks' downscale)."""
    return render_marked(page.html, page.width, 200, ctx)


def render_marked(page_html: str, width: int, height: int,
                  ctx: RenderContext) -> tuple[bytes, dict[str, tuple[float, float, float, float]]]:
    """Any HTML page: the stored PNG and the box of each ``data-pt`` element in its pixels."""
    found: list[tuple[str, float, float, float, float]] = []
    raw = ctx.browser.render("html", page_html, width=width, height=height, boxes=found)
    png = check_image(raw)
    rw = Image.open(io.BytesIO(raw)).size[0]
    w = Image.open(io.BytesIO(png)).size[0]
    s = w / rw
    return png, {k: (x0 * s, y0 * s, x1 * s, y1 * s) for k, x0, y0, x1, y1 in found}


def page_sample(index: int, seed: int, ctx: RenderContext) -> Sample:
    rng = np.random.default_rng([seed, index, 7])
    page = build_page(rng)
    png, boxes = render_page(page, ctx)
    return points_sample(png, boxes, questions(page, rng), f"synthetic://docs-points/{seed}/{index:07d}",
                         index=index, seed=seed, html=page.html)


def points_sample(png: bytes, boxes: dict[str, tuple[float, float, float, float]], qs: list[Question], url: str,
                  index: int, seed: int, **meta: Any) -> Sample:
    """One image and a pixmo-points record per question: the centre of each matched element's box."""
    w, h = Image.open(io.BytesIO(png)).size
    s = Sample(image=png, image_url=url)
    anns = []
    for q in qs:
        pts, kept, kept_boxes = [], [], []
        for k in q.keys:
            c = centre(boxes[k], w, h) if k in boxes else None
            if c is None:
                raise RenderError(f"page {index}: element {k!r} is not in the image")
            pts.append(Point(x=round(100 * c[0] / w, 4), y=round(100 * c[1] / h, 4)))
            kept.append(k)
            kept_boxes.append([round(v, 2) for v in boxes[k]])
        rec = PixmoPoints(image_url=url, image_sha256=s.key, points=pts, count=len(pts), label=q.label,
                          collection_method=q.method)  # type: ignore[arg-type]
        anns.append(Annotation.of(rec, generator="docs-points", index=index, seed=seed, elements=kept,
                                  boxes=kept_boxes, present=bool(kept), **meta))
    s.annotations = anns
    return s


def make_points_shard(config: dict[str, str] | None, task: ShardTask,
                      render: RenderOptions = RenderOptions(threads=4)) -> ShardResult:
    """Shard function for ``generators.runner.run``: one page per item, pages rendered in ``render.threads``
    threads. A page depends on (seed, index) and the page family alone: the fingerprinted config is None
    for order pages, ``{"family": "svg" | "screen"}`` for ``points_svg.py``'s; bind ``render`` with
    ``functools.partial``."""
    from concurrent.futures import ThreadPoolExecutor

    from generators.docs.pipeline import render_context

    ctx = render_context(render)
    sample = page_sample
    if config:
        from generators.docs.points_svg import FAMILIES

        sample = FAMILIES[config["family"]]

    def one(i: int) -> Sample | str:
        try:
            return sample(int(i), task.seed, replace(ctx, drawn=[]))
        except RenderError as exc:
            return f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=render.threads) as pool:
        done = list(pool.map(one, task.items))
    samples = [d for d in done if isinstance(d, Sample)]
    anns = [a for x in samples for a in x.annotations]
    stats: dict[str, Any] = {"pages": len(samples), "rejected": len(done) - len(samples), "questions": len(anns),
                             "points": sum(len(a.meta["elements"]) for a in anns),
                             "not_present": sum(1 for a in anns if not a.meta["present"]),
                             "errors": [d for d in done if isinstance(d, str)]}
    return ShardResult(samples, stats)
