// Review queue: accept, reject with a reason, or edit (with the task type's own widget) and accept.
"use strict";
(async () => {
  const { api, el, toast } = Pixmo;
  const cid = document.body.dataset.campaignId, ttype = document.body.dataset.taskType;
  const list = document.getElementById("review-list");
  const entries = await api("GET", `/api/campaigns/${cid}/review`);
  document.getElementById("review-empty").hidden = entries.length > 0;

  function thumb(e) {
    const box = el("div", { class: "thumb" }, el("img", { src: e.item.media_url, alt: "item" }));
    for (const p of e.payload.points || []) {
      const m = el("div", { class: "pt" });
      m.style.left = (100 * p.x / e.item.width) + "%"; m.style.top = (100 * p.y / e.item.height) + "%";
      box.append(m);
    }
    return box;
  }
  for (const e of entries) {
    const reason = el("input", { class: "reason", placeholder: "reason for rejecting" });
    const visual = el("div", {}, thumb(e));
    let edit = null;
    const send = async (decision, extra) => {
      try {
        await api("POST", `/api/assignments/${e.assignment_id}/review`, { decision, version: e.version, ...extra });
        card.remove(); toast(decision + "ed");
      } catch (err) { toast(err.message, "error"); }
    };
    const label = e.payload.label || (e.item.task && e.item.task.label) || "";
    const card = el("div", { class: "card review-entry", "data-assignment": e.assignment_id }, visual,
      el("div", {},
        el("p", {}, el("b", {}, "Annotator: "), e.annotator),
        el("p", { class: "summary" }, `${label}: ${e.payload.not_present ? "not present" : (e.payload.points || []).length + " points"}`),
        el("p", { class: "muted" }, `${((e.duration_ms || 0) / 1000).toFixed(1)} s`),
        el("button", { type: "button", class: "primary accept", onclick: () => send("accept") }, "Accept"), " ",
        el("button", { type: "button", class: "edit", onclick: () => {
          if (edit) return send("edit", { payload: edit.payload() });
          visual.replaceChildren(); edit = Pixmo.tasks[ttype].mount(visual, e.item, e.payload, () => {});
        } }, "Edit / save edit"),
        el("p", {}, reason, " ", el("button", { type: "button", class: "reject", onclick: () => {
          if (!reason.value.trim()) { toast("Give a reason", "error"); reason.focus(); return; }
          send("reject", { reason: reason.value });
        } }, "Reject"))));
    list.append(card);
  }
})();
