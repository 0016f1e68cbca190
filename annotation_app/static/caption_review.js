// Caption review: audio playback, raw transcript -> cleaned caption word diff, quality flags,
// provenance, accept or reject with a reason. Flagged submissions are listed first.
"use strict";
(async () => {
  const { api, el, toast } = Pixmo;
  const cid = document.body.dataset.campaignId;
  const list = document.getElementById("review-list");
  const entries = await api("GET", `/api/campaigns/${cid}/review?limit=200`);
  entries.sort((a, b) => (b.payload.flags || []).length - (a.payload.flags || []).length);
  document.getElementById("review-empty").hidden = entries.length > 0;
  for (const e of entries) {
    const p = e.payload;
    const diff = await api("GET", `/api/tasks/caption/diff?${new URLSearchParams({ a: p.transcript, b: p.caption })}`);
    const diffEl = el("p", { class: "caption-diff" });
    for (const [op, text] of diff) {
      diffEl.append(op === "equal" ? text : el(op === "delete" ? "del" : "ins", {}, text), " ");
    }
    const audio = el("audio", { controls: "", preload: "none", src: `/api/tasks/caption/recordings/${p.recording_id}/audio` });
    const reason = el("input", { class: "reason", placeholder: "reason for rejecting" });
    const send = async (decision, extra) => {
      try {
        await api("POST", `/api/assignments/${e.assignment_id}/review`, { decision, version: e.version, ...extra });
        card.remove(); toast(decision + "ed");
        document.body.dataset.reviewed = String(Number(document.body.dataset.reviewed || 0) + 1);
      } catch (err) { toast(err.message, "error"); }
    };
    const prov = `ASR: ${(p.stt || {}).model || "?"}; cleanup: ${(p.cleanup || {}).method || "?"}` +
      ((p.cleanup || {}).model ? ` (${p.cleanup.model}, prompt ${p.cleanup.prompt_version})` : "");
    const card = el("div", { class: "card review-entry", "data-assignment": e.assignment_id },
      el("img", { src: e.item.media_url, alt: "item", class: "thumb" }),
      el("div", {},
        el("p", {}, el("b", {}, "Annotator: "), e.annotator, ` — ${(p.duration_s || 0).toFixed(1)} s audio, ` +
          `${(p.speech_s || 0).toFixed(1)} s speech`),
        ...(p.flags || []).map((f) => el("p", { class: "warning caption-flag" }, "⚑ " + f.message)),
        audio,
        el("h4", {}, "Raw transcript → cleaned caption"), diffEl,
        el("p", { class: "muted" }, prov),
        el("button", { type: "button", class: "primary accept", onclick: () => send("accept") }, "Accept"), " ",
        el("p", {}, reason, " ", el("button", { type: "button", class: "reject", onclick: () => {
          if (!reason.value.trim()) { toast("Give a reason", "error"); reason.focus(); return; }
          send("reject", { reason: reason.value });
        } }, "Reject"))));
    list.append(card);
  }
  document.body.dataset.ready = "1";
})();
