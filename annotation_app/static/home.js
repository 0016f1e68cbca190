"use strict";
(async () => {
  const role = document.body.dataset.role;
  const tbody = document.querySelector("#campaigns tbody");
  const { el, api } = Pixmo;
  const filter = document.getElementById("task-filter");
  const campaigns = await api("GET", "/api/campaigns");
  for (const t of [...new Set(campaigns.map((c) => c.task_type))].sort()) filter.append(el("option", { value: t }, t));
  filter.addEventListener("change", () => {
    for (const tr of tbody.rows) tr.hidden = !!filter.value && tr.dataset.taskType !== filter.value;
  });
  for (const c of campaigns) {
    const links = el("td", {}, el("a", { href: `/campaigns/${c.id}/annotate`, class: "annotate-link" }, "Annotate"));
    if (role !== "annotator") {
      links.append(" · ", el("a", { href: `/campaigns/${c.id}/review`, class: "review-link" }, "Review"),
        " · ", el("a", { href: `/campaigns/${c.id}/quality` }, "Quality"));
    }
    tbody.append(el("tr", { "data-campaign": c.name, "data-task-type": c.task_type }, el("td", {}, c.name), el("td", {}, c.task_type), el("td", {}, c.overlap), links));
  }
  const ul = document.getElementById("returned");
  for (const a of await api("GET", "/api/my/assignments")) {
    if (a.status !== "rejected") continue;
    ul.append(el("li", {}, el("a", { href: `/campaigns/${a.campaign_id}/annotate` }, `${a.name}: item ${a.item_id}`),
      ` (reason: ${a.reject_reason})`));
  }
})();
