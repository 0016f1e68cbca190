"use strict";
(async () => {
  const { el, api } = Pixmo;
  const cid = document.body.dataset.campaignId;
  const p = await api("GET", `/api/campaigns/${cid}/progress`);
  const box = document.getElementById("progress");
  box.append(el("p", { id: "percent-done" }, `${p.percent_done}% done: ${p.items} items (+${p.gold_items} gold), ${p.taken}/${p.slots} slots taken`));
  const dl = el("ul", {});
  for (const [k, v] of Object.entries(p.by_status)) dl.append(el("li", {}, `${k}: ${v}`));
  box.append(dl);
  const fmt = (v, d = 3) => (v === null || v === undefined ? "–" : (typeof v === "number" ? +v.toFixed(d) : v));
  const tbody = document.querySelector("#annotators tbody");
  // Gold gating: a paused annotator's reason and a Reinstate button (admins; others get the 403 as a toast).
  function pauseCell(a) {
    if (!a.paused) return el("td", {}, "active");
    const btn = el("button", { type: "button", class: "reinstate", "data-user-id": a.user_id }, "Reinstate");
    btn.addEventListener("click", async () => {
      try {
        await api("POST", `/api/campaigns/${cid}/annotators/${a.user_id}/reinstate`);
        btn.parentNode.replaceChildren("reinstated");
      } catch (e) { Pixmo.toast(e.message, "error"); }
    });
    return el("td", { class: "paused" }, el("span", { class: "warning" }, "paused: " + a.paused.reason + " "), btn);
  }
  for (const a of await api("GET", `/api/campaigns/${cid}/annotators`)) {
    const g = a.gold || {};
    tbody.append(el("tr", {}, ...[a.username, a.submissions, fmt(a.items_per_hour, 1), fmt(a.median_seconds_per_item, 1),
      a.reviewed, fmt(a.rejection_rate), a.gold_items, fmt(g.precision), fmt(g.recall), fmt(g.count_error, 2),
      fmt(g.not_present_correct), fmt(g.expressions_found)].map((v) => el("td", {}, v)), pauseCell(a)));
  }
  // Agreement between annotators on the same items: campaign summary, then one row per annotator.
  const ag = await api("GET", `/api/campaigns/${cid}/agreement`);
  document.getElementById("agreement-counts").textContent = `${ag.answers} answers on ${ag.items} items; ` +
    `${ag.items_with_overlap} items with two or more annotators, ${ag.pairs} pairs compared` +
    (ag.unreadable ? `; ${ag.unreadable} answers left out (malformed stored payload)` : "");
  const note = document.getElementById("agreement-note");
  if (ag.note) { note.textContent = ag.note; note.hidden = false; }
  const sum = document.querySelector("#agreement-summary tbody");
  for (const m of ag.summary) {
    sum.append(el("tr", { "data-key": m.key }, el("td", {}, m.label), el("td", { class: "value" }, fmt(m.value)),
      el("td", {}, m.n), el("td", { class: "muted" }, m.help)));
  }
  const cols = ag.summary.filter((m) => ag.annotators.some((a) => a.metrics.some((x) => x.key === m.key)));
  const head = document.querySelector("#agreement thead");
  head.append(el("tr", {}, el("th", {}, "Annotator"), el("th", {}, "Items shared"), el("th", {}, "Pairs"),
    ...cols.map((m) => el("th", { title: m.help }, m.label))));
  const body = document.querySelector("#agreement tbody");
  for (const a of ag.annotators) {
    const v = Object.fromEntries(a.metrics.map((x) => [x.key, x.value]));
    body.append(el("tr", { "data-user-id": a.user_id }, el("td", {}, a.username), el("td", {}, a.items_with_overlap),
      el("td", {}, a.pairs), ...cols.map((m) => el("td", { "data-key": m.key }, fmt(v[m.key])))));
  }
  document.body.dataset.agreementReady = "1";
})();
