"""One long-lived Chromium per process, with a pool of pages per kind (html, plotly, mermaid).

The reference generator started a browser for every page and slept a fixed 2 s. Here one
Chromium (Playwright, Debian's ``chromium``) lives as long as the process; each page of the
``plotly`` and ``mermaid`` pools loads its library once; a render waits for the page to be ready
(load event, fonts, the library's promise, two animation frames), never a fixed sleep. Chromium
itself runs inside the bubblewrap jail (``jail.py``: no network, no host files, unprivileged,
cleared environment; Playwright drives it over a pipe), and every request but
``data:``/``about:``/``blob:`` is aborted, ``file:`` included. Calls are thread-safe: the browser
runs on its own asyncio loop in a background thread. A page that errors or times out is closed
and replaced; a browser that dies is restarted.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from generators.docs import jail
from generators.docs.sandbox import RenderError

log = logging.getLogger(__name__)

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]
ROOT = Path(__file__).resolve().parents[2]
KINDS = ("html", "plotly", "mermaid")

MERMAID_CONFIG = ("{startOnLoad: false, securityLevel: 'strict', deterministicIds: true, "
                  "deterministicIDSeed: 'pixmo', handDrawnSeed: 1}")
# Math.random, seeded afresh before each render (rough.js draws some Mermaid shapes with it)
_SEED_RANDOM_JS = """() => {
  let a = 20240601;
  Math.random = () => { a |= 0; a = a + 0x6D2B79F5 | 0; let t = Math.imul(a ^ a >>> 15, 1 | a);
    t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t; return ((t ^ t >>> 14) >>> 0) / 4294967296; };
}"""
_READY_JS = """async () => {
  if (document.fonts) { await document.fonts.ready; }
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""
_PLOTLY_JS = """async (fig) => {
  const el = document.getElementById('plot');
  await Plotly.newPlot(el, fig.data || [], fig.layout || {}, {staticPlot: true, displayModeBar: false});
  const r = el.querySelector('.main-svg').getBoundingClientRect();
  el.style.width = r.width + 'px';
  el.style.height = r.height + 'px';
}"""
# Mermaid keeps state between renders (its config, id counters): reset both before each one, with a
# fixed element id and deterministic ids, so a diagram's pixels do not depend on what the page drew before.
_MERMAID_JS = """async (code) => {
  const el = document.getElementById('plot');
  el.innerHTML = '';
  mermaid.mermaidAPI.reset && mermaid.mermaidAPI.reset();
  mermaid.initialize(""" + MERMAID_CONFIG + """);
  const {svg} = await mermaid.render('pixmo-mermaid', code);
  el.innerHTML = svg;
  const s = el.querySelector('svg');
  const mw = s ? parseFloat(s.style.maxWidth) : 0;
  if (mw) { s.style.maxWidth = 'none'; s.style.width = mw + 'px'; s.removeAttribute('height'); }
}"""

# What the page drew: every visible text node with its font size in device pixels (the smaller of
# the CSS font size and the line box height, so text shrunk by an SVG transform counts as small).
_TEXT_JS = """(sel) => {
  const root = sel ? document.querySelector(sel) : document.body;
  if (!root) { return []; }
  const box = root.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  const out = [];
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = walk.nextNode())) {
    const s = n.textContent.replace(/\\s+/g, ' ').trim();
    const el = n.parentElement;
    if (!s || !el || ['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE'].includes(el.tagName.toUpperCase())) { continue; }
    if (el.checkVisibility && !el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) { continue; }
    const cs = getComputedStyle(el);
    if (parseFloat(cs.fillOpacity) === 0 && el instanceof SVGElement) { continue; }
    const r = document.createRange();
    r.selectNodeContents(n);
    let h = 0;
    for (const rc of r.getClientRects()) { if (rc.width > 0) { h = Math.max(h, rc.height); } }
    const b = r.getBoundingClientRect();
    if (!h || (sel && (b.right <= box.left || b.left >= box.right || b.bottom <= box.top || b.top >= box.bottom))) { continue; }
    out.push([s, Math.min(parseFloat(cs.fontSize) || h, h) * dpr]);
  }
  return out;
}"""

# Boxes of the elements marked ``data-pt`` (HTML pages), in device pixels of the full-page
# screenshot: getBoundingClientRect plus the scroll offset, times devicePixelRatio. Hidden and empty
# elements are left out, so what is reported is what the image shows.
_BOXES_JS = """() => {
  const dpr = window.devicePixelRatio || 1;
  const out = [];
  for (const el of document.querySelectorAll('[data-pt]')) {
    if (el.checkVisibility && !el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) { continue; }
    const r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) { continue; }
    const x = r.left + window.scrollX, y = r.top + window.scrollY;
    out.push([el.getAttribute('data-pt'), x * dpr, y * dpr, (x + r.width) * dpr, (y + r.height) * dpr]);
  }
  return out;
}"""


def mermaid_js_path() -> Path:
    p = Path(os.environ.get("PIXMO_MERMAID_JS", ROOT / "node_modules/mermaid/dist/mermaid.min.js"))
    if not p.exists():
        raise RenderError(f"mermaid.min.js not found at {p}; run `make node_modules/mermaid/dist/mermaid.min.js`")
    return p


def plotly_js_path() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def chromium_path() -> str:
    exe = os.environ.get("PIXMO_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise RenderError("chromium is not installed (apt-get install chromium)")
    return exe


@functools.lru_cache(maxsize=1)
def browser_executable() -> str:
    """A script that starts Chromium inside the jail. Playwright talks to it over a pipe (fds 3
    and 4, inherited through bwrap), so the browser needs no network and gets none; its profile
    goes to the jail's private /tmp. The pages' scripts come in as text, so no host file is bound."""
    exe = os.path.realpath(chromium_path())
    if Path(exe).read_bytes()[:2] == b"#!":  # Debian's launcher script: start the binary itself
        exe = next((p for p in ("/usr/lib/chromium/chromium", "/usr/lib/chromium-browser/chromium-browser")
                    if os.path.exists(p)), exe)
    d = jail.make_scratch("pixmo-chromium-")
    atexit.register(shutil.rmtree, d, True)
    host = tempfile.mkdtemp(prefix="pixmo-chromium-wrap-")
    atexit.register(shutil.rmtree, host, True)
    return jail.Jail(d, env={"HOME": "/tmp"}).wrapper_script([exe], os.path.join(host, "chromium-jail"))


async def _block_network(route: Any) -> None:
    if route.request.url.startswith(("data:", "about:", "blob:")):
        await route.continue_()
    else:
        await route.abort()


class BrowserPool:
    """``render(kind, payload, width=...) -> PNG bytes`` on pooled pages of one Chromium."""

    def __init__(self, pages_per_kind: int | dict[str, int] | None = None, timeout: float = 15.0,
                 start_timeout: float = 90.0, executable: str | None = None):
        # plotly.js (4.7 MB) and mermaid (3.5 MB) cost a parse per page: one page each by default
        default = {"html": 2, "plotly": 1, "mermaid": 1}
        if isinstance(pages_per_kind, int):
            default = dict.fromkeys(KINDS, pages_per_kind)
        self.pages_per_kind = {**default, **(pages_per_kind if isinstance(pages_per_kind, dict) else {})}
        self.timeout = timeout  # per render
        self.start_timeout = start_timeout  # per page creation (plotly.js is 4.7 MB to parse)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="browser-pool")
        self._thread.start()
        self._pw: Any = None
        self._browser: Any = None
        self._pools: dict[str, asyncio.Queue[Any]] = {}
        self._made: dict[str, int] = {}
        self._start_lock: asyncio.Lock | None = None
        self.launches = 0
        self.executable = executable  # None: Chromium in the jail (benchmarks pass the bare binary)

    # -- public, thread-safe -------------------------------------------------------------------
    def render(self, kind: str, payload: Any, width: int = 1000, height: int = 700,
               texts: list[tuple[str, float]] | None = None,
               boxes: list[tuple[str, float, float, float, float]] | None = None) -> bytes:
        """PNG bytes; ``texts``, when given, gets the text the page drew with its size in pixels;
        ``boxes`` (HTML only) gets ``(data-pt value, x0, y0, x1, y1)`` of every visible element
        marked ``data-pt``, in pixels of the returned PNG."""
        if kind not in KINDS:
            raise ValueError(f"unknown browser render kind {kind!r}; expected one of {KINDS}")
        if boxes is not None and kind != "html":
            raise ValueError("element boxes are reported for html pages only")
        fut = asyncio.run_coroutine_threadsafe(self._render(kind, payload, width, height, boxes is not None),
                                               self._loop)
        try:
            png, drawn, found = fut.result(self.timeout + self.start_timeout + 60)
            if texts is not None:
                texts.extend((str(t), float(px)) for t, px in drawn)
            if boxes is not None:
                boxes.extend((str(k), float(x0), float(y0), float(x1), float(y1)) for k, x0, y0, x1, y1 in found)
            return png
        except TimeoutError as exc:
            fut.cancel()
            raise RenderError(f"{kind} render did not finish in {self.timeout}s") from exc

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(20)
        except Exception as exc:  # noqa: BLE001 - closing must never raise
            log.debug("browser shutdown: %r", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # -- inside the loop -----------------------------------------------------------------------
    async def _ensure_browser(self) -> None:
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._browser is not None and self._browser.is_connected():
                return
            await self._shutdown()
            from playwright.async_api import async_playwright

            self._pw = await async_playwright().start()
            self._browser = await self._pw.chromium.launch(executable_path=self.executable or browser_executable(), headless=True,
                                                           args=CHROMIUM_ARGS)
            self._pools = {k: asyncio.Queue() for k in KINDS}
            self._made = dict.fromkeys(KINDS, 0)
            self.launches += 1

    async def _new_page(self, kind: str) -> Any:
        scale = 2 if kind == "mermaid" else 1  # mermaid diagrams are small: render at 2x, like `mmdc -s 2`
        page = await self._browser.new_page(viewport={"width": 1000, "height": 700}, device_scale_factor=scale)
        await page.route("**/*", _block_network)
        page.set_default_timeout(self.timeout * 1000)
        if kind != "html":
            await page.set_content("<html><body style='margin:0;background:white'>"
                                   "<div id='plot' style='display:inline-block'></div></body></html>")
            if kind == "plotly":
                await page.add_script_tag(path=str(plotly_js_path()))
            else:
                await page.add_script_tag(path=str(mermaid_js_path()))
                await page.evaluate(f"mermaid.initialize({MERMAID_CONFIG})")
        return page

    async def _acquire(self, kind: str) -> Any:
        await self._ensure_browser()
        pool = self._pools[kind]
        if pool.empty() and self._made[kind] < self.pages_per_kind[kind]:
            self._made[kind] += 1
            try:
                return await asyncio.wait_for(self._new_page(kind), self.start_timeout)
            except BaseException:  # cancelled or timed out: free the slot
                self._made[kind] -= 1
                raise
        return await pool.get()

    async def _render(self, kind: str, payload: Any, width: int, height: int,
                      want_boxes: bool = False) -> tuple[bytes, list, list]:
        try:
            page = await self._acquire(kind)
        except Exception as exc:  # noqa: BLE001
            raise RenderError(f"could not get a {kind} page: {exc!r}") from exc
        try:
            png = await asyncio.wait_for(self._draw(page, kind, payload, width, height), self.timeout)
            drawn = await asyncio.wait_for(page.evaluate(_TEXT_JS, None if kind == "html" else "#plot"), self.timeout)
            found = await asyncio.wait_for(page.evaluate(_BOXES_JS), self.timeout) if want_boxes else []
        except Exception as exc:  # noqa: BLE001 - the page may be broken: replace it
            await self._discard(page, kind)
            msg = "time limit exceeded" if isinstance(exc, TimeoutError) else str(exc).splitlines()[0][:300]
            raise RenderError(f"{kind}: {msg}") from exc
        self._pools[kind].put_nowait(page)
        return png, drawn, found

    async def _draw(self, page: Any, kind: str, payload: Any, width: int, height: int) -> bytes:
        await page.set_viewport_size({"width": width, "height": height})
        if kind == "html":
            await page.set_content(payload, wait_until="load")
            await page.evaluate(_READY_JS)
            return await page.screenshot(full_page=True, type="png")
        await page.evaluate(_SEED_RANDOM_JS)
        await page.evaluate(_PLOTLY_JS if kind == "plotly" else _MERMAID_JS, payload)
        await page.evaluate(_READY_JS)
        el = await page.query_selector("#plot")
        return await el.screenshot(type="png")

    async def _discard(self, page: Any, kind: str) -> None:
        self._made[kind] = max(0, self._made.get(kind, 1) - 1)
        try:
            await asyncio.wait_for(page.close(run_before_unload=False), 5)
        except Exception as exc:  # noqa: BLE001 - a hung renderer: restart the browser
            log.warning("a %s page would not close (%r); restarting Chromium", kind, exc)
            await self._shutdown()

    async def _shutdown(self) -> None:
        browser, pw = self._browser, self._pw
        self._browser = self._pw = None
        if browser is not None:
            try:
                await asyncio.wait_for(browser.close(), 10)
            except Exception:  # noqa: BLE001
                pass
        if pw is not None:
            try:
                await pw.stop()
            except Exception:  # noqa: BLE001
                pass


_POOL: BrowserPool | None = None
_POOL_LOCK = threading.Lock()


def shared_pool() -> BrowserPool:
    """The process's long-lived pool (started on first use, closed at exit)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = BrowserPool()
            atexit.register(_POOL.close)
        return _POOL
