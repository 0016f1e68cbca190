// Pointing / counting widget (plain JS, no build step). Points are kept in image pixels.
// Pointing (PixMo-Points): one expression at a time; "Add expression" (L) files the current one in
// the list below and starts the next; submit sends them all ("image done").
// Click: add a point (or select one under the cursor) · drag: pan · wheel: zoom at the cursor ·
// right-click: delete the point under the cursor · keys: see the "?" overlay.
"use strict";
(() => {
  const { el } = Pixmo;
  const KEYS = [["click", "add a point (or select the point under the cursor)"], ["drag", "pan"],
    ["wheel / + / -", "zoom at the cursor / in / out"], ["0", "fit the image"], ["right-click", "delete the point under the cursor"],
    ["Del / Backspace", "delete the selected (or last) point"], ["arrows", "nudge the selected point (Shift: 10 px)"],
    ["Ctrl+Z / U", "undo"], ["Ctrl+Shift+Z / Ctrl+Y / R", "redo"], ["N", "not present (toggle)"], ["L", "add the expression, start the next (pointing)"],
    ["Enter / Ctrl+Enter", "submit"], ["S", "skip"], ["?", "show / hide this help"], ["Esc", "close help, deselect"]];
  // A point with m: 1 is a machine suggestion nobody has moved yet (drawn green, class "prefill").
  const pts = (ps) => (ps || []).map((p) => (p.m ? { x: +p.x, y: +p.y, m: 1 } : { x: +p.x, y: +p.y }));
  const expr = (e) => ({ label: e.label || "", not_present: !!e.not_present, points: pts(e.points) });
  const clone = (s) => ({ ...expr(s), expressions: (s.expressions || []).map(expr) });
  const norm = (t) => t.toLowerCase().split(/\s+/).filter(Boolean).join(" ");
  const started = (e) => !!(e.label.trim() || e.points.length || e.not_present);
  function problem(e) {  // why an expression cannot be sent yet, or null
    if (!e.label.trim()) return "Write the referring expression first";
    if (!e.not_present && !e.points.length) return `Click each instance of "${e.label.trim()}", or mark Not present`;
    return null;
  }

  function mount(root, item, draft, onChange) {
    const task = item.task || {};
    const fixed = !!task.fixed_label;
    const minExpr = fixed ? 1 : (task.min_expressions || 1);
    let state = { label: fixed ? task.label : (task.hint || ""), points: [], not_present: false, expressions: [] };
    if (draft) {
      state = clone(draft);  // a draft, or a returned answer in either payload form
      if (fixed) { state.label = task.label; state.expressions = []; }
    } else if (task.prefill && task.prefill.length) state.points = task.prefill.map(([x, y]) => ({ x, y, m: 1 }));
    const undo = [], redo = [];
    let selected = -1, view = { z: 1, tx: 0, ty: 0, fit: 1 };

    root.replaceChildren();
    const label = fixed ? el("span", { id: "fixed-label", class: "pt-label" }, `Point at every: ${task.label}`)
      : el("input", { id: "label", placeholder: "Referring expression, e.g. 'red apples'", maxlength: 300, autocomplete: "off" });
    if (!fixed) label.value = state.label;
    const count = el("span", { id: "count", class: "pt-count" });
    const btn = (id, text, title, fn) => el("button", { id, type: "button", title, onclick: fn }, text);
    const npBtn = btn("not-present", "Not present", "N", () => toggleNotPresent());
    const toolbar = el("div", { class: "pt-toolbar" }, label, count, npBtn,
      btn("undo", "Undo", "Ctrl+Z", () => doUndo()), btn("redo", "Redo", "Ctrl+Shift+Z", () => doRedo()),
      btn("delete-point", "Delete point", "Del", () => deleteSelected()),
      btn("zoom-in", "+", "zoom in", () => zoomCenter(1.25)), btn("zoom-out", "−", "zoom out", () => zoomCenter(0.8)),
      btn("zoom-reset", "Fit", "0", () => fitView()), btn("help", "?", "keyboard shortcuts", () => toggleHelp()));
    const img = el("img", { id: "image", alt: "image to annotate", draggable: "false" });
    const marks = el("div", { class: "marks" });
    const stage = el("div", { id: "stage", class: "stage" }, img, marks);
    const vp = el("div", { id: "viewport", class: "viewport", tabindex: "0" }, stage);
    const help = el("div", { id: "help-overlay", class: "overlay", hidden: "" },
      el("div", { class: "card" }, el("h2", {}, "Keyboard shortcuts"),
        el("table", {}, ...KEYS.map(([k, d]) => el("tr", {}, el("td", {}, el("kbd", {}, k)), el("td", {}, d))))));
    help.addEventListener("click", () => toggleHelp(false));
    const exprCount = el("span", { id: "expr-count", class: "muted" });
    const exprList = el("ol", { id: "expressions", class: "pt-expressions" });
    const exprBar = fixed ? null : el("div", { class: "pt-exprbar" },
      btn("add-expression", "Add expression (L)", "L: file this expression and start the next", () => addExpression()),
      exprCount, exprList);
    root.append(toolbar, ...(exprBar ? [exprBar] : []), vp, help);

    img.addEventListener("load", () => fitView());
    img.src = item.media_url;
    stage.style.width = item.width + "px"; stage.style.height = item.height + "px";
    img.width = item.width; img.height = item.height;

    function apply() {
      stage.style.transform = `translate(${view.tx}px, ${view.ty}px) scale(${view.z})`;
      for (const m of marks.children) m.style.transform = `scale(${1 / view.z})`;
      vp.dataset.zoom = (view.z / view.fit).toFixed(3);
    }
    function fitView() {
      const r = vp.getBoundingClientRect();
      view.fit = Math.min(r.width / item.width, r.height / item.height) || 1;
      view.z = view.fit;
      view.tx = (r.width - item.width * view.z) / 2; view.ty = (r.height - item.height * view.z) / 2;
      apply();
    }
    function zoomAt(px, py, f) {
      const z = Math.min(Math.max(view.z * f, view.fit * 0.5), view.fit * 20);
      view.tx = px - (px - view.tx) * (z / view.z); view.ty = py - (py - view.ty) * (z / view.z); view.z = z;
      apply();
    }
    function zoomCenter(f) { const r = vp.getBoundingClientRect(); zoomAt(r.width / 2, r.height / 2, f); }
    function toImage(cx, cy) {
      const r = vp.getBoundingClientRect();
      return { x: (cx - r.left - view.tx) / view.z, y: (cy - r.top - view.ty) / view.z };
    }
    function nearest(p, px) {
      let best = -1, bd = px / view.z;
      state.points.forEach((q, i) => { const d = Math.hypot(q.x - p.x, q.y - p.y); if (d <= bd) { bd = d; best = i; } });
      return best;
    }
    function render() {
      const dot = (p, cls, title) => { const m = el("div", { class: cls, title }); m.style.left = p.x + "px"; m.style.top = p.y + "px"; return m; };
      marks.replaceChildren(...state.expressions.flatMap((e) => e.points.map((p) => dot(p, "pt done", e.label))),
        ...state.points.map((p, i) => {
          const m = dot(p, "pt" + (p.m ? " prefill" : "") + (i === selected ? " selected" : ""),
            p.m ? "machine suggestion: move it, delete it or keep it" : null);
          m.dataset.i = i;
          return m;
        }));
      if (exprBar) {
        exprList.replaceChildren(...state.expressions.map((e, i) => el("li", { class: "expr", "data-i": i },
          el("b", {}, e.label), ` — ${e.not_present ? "not present" : e.points.length + " point" + (e.points.length === 1 ? "" : "s")} `,
          el("button", { type: "button", class: "expr-edit", onclick: () => editExpression(i) }, "Edit"), " ",
          el("button", { type: "button", class: "expr-remove", onclick: () => removeExpression(i) }, "Remove"))));
        const n = all().length;
        exprCount.textContent = `${n} expression${n === 1 ? "" : "s"}` + (minExpr > 1 ? ` (at least ${minExpr})` : "");
        exprBar.dataset.count = n;
      }
      const n = state.points.length;
      count.textContent = state.not_present ? "Not present (0)" : `${n} point${n === 1 ? "" : "s"}`;
      count.dataset.count = state.not_present ? 0 : n;
      npBtn.classList.toggle("active", state.not_present);
      apply();
    }
    function commit(next) {
      undo.push(clone(state)); redo.length = 0; state = next; render(); onChange(clone(state));
    }
    function addPoint(p) {
      const s = clone(state);
      s.points.push({ x: Math.round(p.x * 100) / 100, y: Math.round(p.y * 100) / 100 }); s.not_present = false;
      selected = s.points.length - 1; commit(s);
    }
    function deleteAt(i) {
      if (i < 0 || i >= state.points.length) return;
      const s = clone(state); s.points.splice(i, 1); selected = -1; commit(s);
    }
    function deleteSelected() { deleteAt(selected >= 0 ? selected : state.points.length - 1); }
    function all() { return [...state.expressions, ...(started(state) ? [expr(state)] : [])]; }
    function addExpression() {
      const why = problem(state);
      const dup = state.expressions.some((e) => norm(e.label) === norm(state.label));
      if (why || dup) { Pixmo.toast(why || `"${state.label.trim()}" is already in the list`, "error"); return; }
      const s = clone(state);
      s.expressions.push(expr({ ...s, label: s.label.trim() })); Object.assign(s, expr({}));
      selected = -1; commit(s); label.value = ""; label.focus();
    }
    function removeExpression(i) { const s = clone(state); s.expressions.splice(i, 1); commit(s); }
    function editExpression(i) {  // back into the editor; what was being edited goes to the list
      const s = clone(state), e = s.expressions.splice(i, 1)[0];
      if (started(s)) { if (problem(s)) { Pixmo.toast(problem(s), "error"); return; } s.expressions.push(expr(s)); }
      Object.assign(s, e); selected = -1; commit(s); label.value = s.label;
    }
    function toggleNotPresent() { const s = clone(state); s.not_present = !s.not_present; if (s.not_present) s.points = []; selected = -1; commit(s); }
    function restore(s) { state = s; selected = -1; if (!fixed) label.value = state.label; render(); onChange(clone(state)); }
    function doUndo() { if (!undo.length) return; redo.push(clone(state)); restore(undo.pop()); }
    function doRedo() { if (!redo.length) return; undo.push(clone(state)); restore(redo.pop()); }
    function toggleHelp(show) { help.hidden = show === undefined ? !help.hidden : !show; }
    function nudge(dx, dy) {
      if (selected < 0) return;
      const s = clone(state), p = s.points[selected];
      p.x = Math.min(Math.max(p.x + dx, 0), item.width); p.y = Math.min(Math.max(p.y + dy, 0), item.height); delete p.m; commit(s);
    }

    let down = null;
    vp.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      down = { x: e.clientX, y: e.clientY, tx: view.tx, ty: view.ty, drag: false };
      vp.setPointerCapture(e.pointerId);
    });
    vp.addEventListener("pointermove", (e) => {
      if (!down) return;
      const dx = e.clientX - down.x, dy = e.clientY - down.y;
      if (!down.drag && Math.hypot(dx, dy) > 4) down.drag = true;
      if (down.drag) { view.tx = down.tx + dx; view.ty = down.ty + dy; apply(); }
    });
    vp.addEventListener("pointerup", (e) => {
      if (!down) return;
      const wasDrag = down.drag; down = null;
      if (wasDrag) return;
      const p = toImage(e.clientX, e.clientY);
      if (p.x < 0 || p.y < 0 || p.x > item.width || p.y > item.height) return;
      const i = nearest(p, 6);
      if (i >= 0) { selected = i; render(); return; }
      addPoint(p);
    });
    vp.addEventListener("contextmenu", (e) => { e.preventDefault(); deleteAt(nearest(toImage(e.clientX, e.clientY), 10)); });
    vp.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = vp.getBoundingClientRect();
      zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * 0.0015));
    }, { passive: false });
    if (!fixed) label.addEventListener("input", () => { state.label = label.value; onChange(clone(state)); });
    if (!fixed) label.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.ctrlKey) { e.preventDefault(); vp.focus(); } });

    function onKey(e) {
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
      const k = e.key, mod = e.ctrlKey || e.metaKey;
      if (k === "Escape") { toggleHelp(false); selected = -1; render(); return; }
      if (mod && (k === "z" || k === "Z")) { if (typing) return; e.preventDefault(); e.shiftKey ? doRedo() : doUndo(); return; }
      if (mod && k === "y") { if (typing) return; e.preventDefault(); doRedo(); return; }
      if (typing || mod || e.altKey) return;
      const map = { "u": doUndo, "r": doRedo, "n": toggleNotPresent, "?": toggleHelp, "0": fitView,
        "+": () => zoomCenter(1.25), "=": () => zoomCenter(1.25), "-": () => zoomCenter(0.8),
        "Delete": deleteSelected, "Backspace": deleteSelected };
      if (!fixed) map.l = addExpression;
      const step = e.shiftKey ? 10 : 1;
      const arrows = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (map[k]) { e.preventDefault(); map[k](); } else if (arrows[k] && selected >= 0) { e.preventDefault(); nudge(...arrows[k]); }
    }
    document.addEventListener("keydown", onKey);
    render();

    const out = (e) => ({ label: fixed ? "" : e.label.trim(), points: e.not_present ? [] : e.points.map((p) => ({ x: p.x, y: p.y })),
      not_present: e.not_present });
    return {
      // one expression: the original payload form; several: {"expressions": [...]}
      payload: () => { const xs = all(); return xs.length > 1 ? { expressions: xs.map(out) } : out(xs[0] || state); },
      draft: () => clone(state),
      validate: () => {
        const xs = all();
        if (!xs.length) return fixed ? problem(state) : "Write the referring expression first";
        for (const e of xs) { const why = fixed ? (!e.not_present && !e.points.length ? "Click each instance, or mark Not present" : null) : problem(e); if (why) return why; }
        const keys = xs.map((e) => norm(e.label));
        if (!fixed && new Set(keys).size < keys.length) return "Each expression only once";
        if (xs.length < minExpr) return `Add at least ${minExpr} expressions for this image (you have ${xs.length})`;
        return null;
      },
      destroy: () => { document.removeEventListener("keydown", onKey); root.replaceChildren(); },
    };
  }
  Pixmo.tasks.pointing = { mount };
  Pixmo.tasks.counting = { mount };
})();
