// Review queue for every task type: one page of answers at a time (paging, filters by annotator
// and flags), each drawn by its task type (points on the image, caption audio + transcript ->
// caption diff, AMA question + drafts + answer, pairwise prompt + answers + vote). Accept (A),
// reject with a reason (X), edit (E, for types with an editing widget), next / previous (J / K).
// Your own work is never listed (the server refuses to let you review it).
"use strict";
(() => {
  const { api, el, toast } = Pixmo;
  const cid = document.body.dataset.campaignId, ttype = document.body.dataset.taskType;
  const PAGE = 10;
  const list = document.getElementById("review-list");
  const who = document.getElementById("filter-annotator"), flaggedOnly = document.getElementById("filter-flagged");
  const pager = document.getElementById("review-page");
  let offset = 0, cards = [], current = -1;
  const EDITABLE = ["pointing", "counting", "pairwise"];

  const swatch = (k) => { const s = el("span", { class: "swatch" }, "● "); s.style.color = HUES[k % HUES.length]; return s; };
  const HUES = ["#ff2d55", "#0a84ff", "#ffd60a", "#30d158", "#bf5af2", "#ff9f0a"];
  function image(e, points) {  // points: [{x, y, k?}], k picks the colour of its expression
    const box = el("div", { class: "thumb" }, el("img", { src: e.item.media_url, alt: "item", loading: "lazy" }));
    for (const p of points || []) {
      const m = el("div", { class: "pt", "data-expression": p.k || 0 });
      m.style.background = HUES[(p.k || 0) % HUES.length];
      m.style.left = (100 * p.x / e.item.width) + "%"; m.style.top = (100 * p.y / e.item.height) + "%";
      box.append(m);
    }
    return box;
  }
  const flagList = (flags) => (flags || []).map((f) => el("p", { class: "warning review-flag" }, "⚑ " + (f.message || f.code)));
  function diffWords(a, b) {  // word diff raw transcript -> cleaned caption (LCS)
    const x = a.split(/\s+/).filter(Boolean), y = b.split(/\s+/).filter(Boolean);
    const n = x.length, m = y.length, L = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    const out = el("p", { class: "caption-diff" });
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && x[i] === y[j]) { out.append(x[i] + " "); i++; j++; }
      else if (j < m && (i === n || L[i][j + 1] >= L[i + 1][j])) { out.append(el("ins", {}, y[j]), " "); j++; }
      else { out.append(el("del", {}, x[i]), " "); i++; }
    }
    return out;
  }
  const RENDER = {
    pointing: (e) => {  // every expression with its points, one colour each
      const p = e.payload;
      const xs = p.expressions || [{ label: p.label || (e.item.task && e.item.task.label) || "", points: p.points, not_present: p.not_present }];
      const dots = xs.flatMap((x, k) => (x.not_present ? [] : (x.points || []).map((q) => ({ ...q, k }))));
      const line = (x, k) => el("li", { class: "review-expression", "data-expression": k },
        swatch(k),
        `${x.label}: ${x.not_present ? "not present" : (x.points || []).length + " points"}`);
      return [image(e, dots), xs.length > 1 ? el("ol", { class: "review-expressions summary" }, ...xs.map(line))
        : el("p", { class: "summary" }, `${xs[0].label}: ${xs[0].not_present ? "not present" : (xs[0].points || []).length + " points"}`)];
    },
    caption: (e) => {
      const p = e.payload;
      const prov = `ASR: ${(p.stt || {}).model || "?"}; cleanup: ${(p.cleanup || {}).method || "?"}` +
        ((p.cleanup || {}).model ? ` (${p.cleanup.model}, prompt ${p.cleanup.prompt_version})` : "");
      return [image(e),
        el("p", { class: "summary" }, `${(p.duration_s || 0).toFixed(1)} s audio, ${(p.speech_s || 0).toFixed(1)} s speech`),
        el("audio", { controls: "", preload: "none", src: `/api/tasks/caption/recordings/${p.recording_id}/audio` }),
        el("h4", {}, "Raw transcript → cleaned caption"), diffWords(p.transcript || "", p.caption || ""),
        el("p", { class: "muted" }, prov)];
    },
    ama: (e) => {
      const p = e.payload;
      return [image(e), el("p", { class: "summary" }, el("b", {}, "Question: "), p.question),
        el("ol", { class: "ama-drafts" }, ...(p.drafts || []).map((d) => el("li", { class: `draft ${d.decision}` },
          `[${d.decision}] ${d.answer}`, d.feedback ? el("em", {}, ` — feedback: ${d.feedback}`) : ""))),
        el("p", {}, el("b", {}, `Final answer (${p.final_source === "accepted_draft" ? "accepted draft" : "hand-written"}): `), p.answer),
        el("p", { class: "muted" }, `${(p.time_to_decision_ms / 1000).toFixed(1)} s to decide, edit distance ${p.edit_distance}`)];
    },
    pairwise: (e) => {
      const p = e.payload, t = e.item.task || {};
      const names = { a: "A is better", b: "B is better", tie: "Tie", both_bad: "Both bad" };
      return [image(e), el("p", { class: "summary" }, el("b", {}, "Prompt: "), t.prompt || ""),
        el("div", { class: "pw-answers" }, el("div", { class: "card" }, el("h4", {}, "Answer A"), t.answer_a || ""),
          el("div", { class: "card" }, el("h4", {}, "Answer B"), t.answer_b || "")),
        el("p", { class: "pw-vote" }, el("b", {}, "Vote: "), names[p.choice] || p.choice, p.reason ? ` — “${p.reason}”` : "")];
    },
  };
  RENDER.counting = RENDER.pointing;
  RENDER.point_explanations = RENDER.ama;

  function select(i) {
    if (!cards.length) { current = -1; return; }
    current = Math.max(0, Math.min(i, cards.length - 1));
    cards.forEach((c, k) => c.classList.toggle("current", k === current));
    cards[current].scrollIntoView({ block: "nearest" });
  }
  function entryCard(e) {
    const reason = el("input", { class: "reason", placeholder: "reason for rejecting (X)" });
    const visual = el("div", { class: "review-visual" }, ...(RENDER[e.task_type] || RENDER.pointing)(e));
    let edit = null;
    const send = async (decision, extra) => {
      try {
        await api("POST", `/api/assignments/${e.assignment_id}/review`, { decision, version: e.version, ...extra });
        const i = cards.indexOf(card);
        card.remove(); cards.splice(i, 1); select(i);
        toast(decision + "ed");
        document.body.dataset.reviewed = String(Number(document.body.dataset.reviewed || 0) + 1);
      } catch (err) { toast(err.message, "error"); }
    };
    const actions = {
      accept: () => send("accept"),
      reject: () => {
        if (!reason.value.trim()) { toast("Give a reason, then press X again", "error"); reason.focus(); return; }
        send("reject", { reason: reason.value });
      },
      edit: () => {
        if (!EDITABLE.includes(e.task_type)) return;
        if (edit) { send("edit", { payload: edit.payload() }); return; }
        visual.replaceChildren(); edit = Pixmo.tasks[ttype].mount(visual, e.item, e.payload, () => {});
      },
    };
    const card = el("div", { class: "card review-entry", "data-assignment": e.assignment_id, "data-task-type": e.task_type },
      visual,
      el("div", { class: "review-side" },
        el("p", {}, el("b", {}, "Annotator: "), e.annotator),
        e.source_path ? el("p", { class: "source-path" }, el("b", {}, "File: "), e.source_path) : "",
        el("p", { class: "muted" }, `${((e.duration_ms || 0) / 1000).toFixed(1)} s on the item`),
        ...flagList(e.flags),
        el("button", { type: "button", class: "primary accept", onclick: actions.accept }, "Accept (A)"), " ",
        EDITABLE.includes(e.task_type) ? el("button", { type: "button", class: "edit", onclick: actions.edit }, "Edit / save edit (E)") : "",
        el("p", {}, reason, " ", el("button", { type: "button", class: "reject", onclick: actions.reject }, "Reject (X)"))));
    card.actions = actions; card.reason = reason;
    card.addEventListener("click", () => select(cards.indexOf(card)));
    return card;
  }
  async function load() {
    document.body.dataset.ready = "";
    const q = new URLSearchParams({ limit: String(PAGE + 1), offset: String(offset) });
    if (who.value.trim()) q.set("annotator", who.value.trim());
    if (flaggedOnly.checked) q.set("flagged", "true");
    const entries = await api("GET", `/api/campaigns/${cid}/review?${q}`);
    const more = entries.length > PAGE;
    cards = entries.slice(0, PAGE).map(entryCard);
    list.replaceChildren(...cards);
    document.getElementById("review-empty").hidden = cards.length > 0;
    pager.textContent = cards.length ? `${offset + 1}–${offset + cards.length}` : "";
    document.getElementById("page-prev").disabled = offset === 0;
    document.getElementById("page-next").disabled = !more;
    select(0);
    document.body.dataset.ready = "1";
  }
  document.getElementById("page-prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
  document.getElementById("page-next").addEventListener("click", () => { offset += PAGE; load(); });
  document.getElementById("filter-form").addEventListener("submit", (ev) => { ev.preventDefault(); offset = 0; load(); });
  flaggedOnly.addEventListener("change", () => { offset = 0; load(); });
  document.addEventListener("keydown", (ev) => {
    const typing = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLTextAreaElement;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || current < 0) return;
    const card = cards[current];
    if (typing) {
      if (ev.key === "Enter" && ev.target === card.reason) { ev.preventDefault(); card.actions.reject(); }
      if (ev.key === "Escape") ev.target.blur();
      return;
    }
    const k = ev.key.toLowerCase();
    const map = { a: card.actions.accept, x: card.actions.reject, e: card.actions.edit, j: () => select(current + 1),
      k: () => select(current - 1) };
    if (map[k]) { ev.preventDefault(); map[k](); }
  });
  load().catch((err) => toast(err.message, "error"));
})();
