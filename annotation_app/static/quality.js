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
})();
