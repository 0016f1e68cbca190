// The task page shell, shared by every task type: claim with a lease, prefetch the next item,
// autosave drafts (browser + server), heartbeat, skip, and submit with an idempotency key and
// retries. A task type's widget (Pixmo.tasks[type]) draws the item and builds the payload.
"use strict";
(() => {
  const { api, toast } = Pixmo;
  const body = document.body;
  const cid = body.dataset.campaignId;
  const widget = Pixmo.tasks[body.dataset.taskType];
  const root = document.getElementById("task-root");
  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const LS = window.localStorage;
  let cur = null, next = null, ctrl = null, started = 0, saveTimer = null, busy = false;
  // A submit needs the item to have been visible for the campaign's min_view_ms (also checked by
  // the server). Without that setting, a submit within GUARD_MS of an item switch needs some
  // interaction with the new item first, so a second Enter cannot submit the prefetched item unseen.
  const minViewMs = Number(body.dataset.minViewMs || 0), GUARD_MS = 1000;
  let touched = false;
  root.addEventListener("pointerdown", () => { touched = true; }, true);
  document.addEventListener("keydown", (e) => { if (e.key !== "Enter") touched = true; }, true);

  const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(""));
  const draftKey = (id) => "pixmo-draft-" + id;
  function localDraft(id) { try { return JSON.parse(LS.getItem(draftKey(id))); } catch { return null; } }
  async function claim(exclude) { return (await api("POST", `/api/campaigns/${cid}/claim`, { exclude })).assignment; }
  // Done today (since local midnight), remaining, and a gold-gating pause with its reason.
  let paused = null;
  async function myProgress() {
    const midnight = new Date(); midnight.setHours(0, 0, 0, 0);
    try {
      const p = await api("GET", `/api/campaigns/${cid}/my-progress?since=${midnight.getTime() / 1000}`);
      $("my-progress").textContent = `Done today: ${p.done_today} · remaining in this campaign: ${p.remaining}`;
      paused = p.paused;
    } catch (e) { $("my-progress").textContent = ""; }
    $("paused").hidden = !paused;
    $("paused").textContent = paused ? "You are paused in this campaign: " + paused + ". An admin can reinstate you." : "";
  }
  function show(a) {
    if (ctrl) ctrl.destroy();
    cur = a; ctrl = null; started = Date.now(); touched = false;
    $("done").hidden = !!a; $("submit").disabled = !a; $("skip").disabled = !a;
    const rr = $("reject-reason");
    rr.hidden = !(a && a.reject_reason);
    if (a && a.reject_reason) rr.textContent = "A reviewer sent this back: " + a.reject_reason;
    if (!a) { body.dataset.assignmentId = ""; return; }
    body.dataset.assignmentId = a.assignment_id;
    ctrl = widget.mount(root, a.item, localDraft(a.assignment_id) || a.draft, onChange);
    $("save-state").textContent = "";
  }
  function onChange(d) {
    if (!cur) return;
    LS.setItem(draftKey(cur.assignment_id), JSON.stringify(d));
    $("save-state").textContent = "saving draft…";
    clearTimeout(saveTimer); saveTimer = setTimeout(saveDraft, 600);
  }
  async function saveDraft() {
    if (!cur || !ctrl) return;
    try {
      await api("PUT", `/api/assignments/${cur.assignment_id}/draft`, { draft: ctrl.draft() });
      $("save-state").textContent = "draft saved";
    } catch (e) { $("save-state").textContent = "draft kept in this browser (" + e.message + ")"; }
  }
  async function prefetch() {
    next = null; $("queue-state").textContent = "";
    if (!cur) return;
    try {
      next = await claim([cur.assignment_id]);
      if (next) { new Image().src = next.item.media_url; $("queue-state").textContent = "next item ready"; }
    } catch (e) { next = null; }
  }
  async function advance() {
    const n = next; next = null;
    const mp = myProgress();
    try { show(n || await claim([])); } catch (e) { show(null); toast(e.message, "error"); }
    await mp;
    if (paused) { show(null); $("done").hidden = true; return; }  // gold gating: no more items here
    await prefetch();
  }
  async function submit() {
    if (!cur || !ctrl || busy) return;
    const seen = Date.now() - started;
    if (seen < minViewMs || (seen < GUARD_MS && !touched)) {
      toast(`Look at this item first (at least ${(Math.max(minViewMs, GUARD_MS) / 1000).toFixed(1)} s before submitting)`, "error");
      body.dataset.ignoredSubmits = String(Number(body.dataset.ignoredSubmits || 0) + 1);
      return;
    }
    const err = ctrl.validate();
    if (err) { toast(err, "error"); return; }
    busy = true;
    const id = cur.assignment_id, kname = "pixmo-ck-" + id;
    let key = LS.getItem(kname);
    if (!key) { key = "ck-" + uuid(); LS.setItem(kname, key); }
    const req = { client_key: key, payload: ctrl.payload(), duration_ms: Date.now() - started };
    try {
      for (let attempt = 0; ; attempt++) {
        try { await api("POST", `/api/assignments/${id}/submit`, req); break; } catch (e) {
          if (e.status && e.status < 500 && e.status !== 429) { toast(e.message, "error"); return; }
          if (attempt >= 5) { toast("Could not reach the server; your work is kept. Try again.", "error"); return; }
          await sleep(400 * 2 ** attempt);
        }
      }
      clearTimeout(saveTimer);
      LS.removeItem(kname); LS.removeItem(draftKey(id));
      toast("Submitted");
      await finishSkip();
      await advance();
    } finally { busy = false; }
  }
  // Skip asks first (S or the button again: skip; Esc: keep working). The skipped item's lease is
  // given back only after UNDO_MS, so "Undo skip" (Z) brings it back with everything typed or clicked.
  const UNDO_MS = 8000;
  let skipArmed = false, pendingSkip = null;
  function skipBar(text, ...buttons) {
    const bar = $("skip-bar");
    bar.hidden = !text;
    bar.replaceChildren(...(text ? [text, " ", ...buttons] : []));
    body.dataset.skipBar = text ? (pendingSkip ? "undo" : "confirm") : "";
  }
  const barButton = (id, text, fn) => Pixmo.el("button", { type: "button", id, onclick: fn }, text);
  function disarm() { skipArmed = false; if (!pendingSkip) skipBar(""); }
  async function skip() {
    if (!cur || busy) return;
    if (!skipArmed) {
      skipArmed = true;
      skipBar("Skip this item? What you did on it is dropped.", barButton("skip-yes", "Skip it (S)", skip),
        barButton("skip-no", "Keep working (Esc)", disarm));
      return;
    }
    skipArmed = false;
    busy = true;
    try {
      await finishSkip();
      const a = cur;
      LS.setItem(draftKey(a.assignment_id), JSON.stringify(ctrl.draft()));
      const n = next; next = null;
      pendingSkip = { a, timer: setTimeout(finishSkip, UNDO_MS) };
      show(n || await claim([a.assignment_id]));
      skipBar("Skipped.", barButton("skip-undo", "Undo skip (Z)", undoSkip));
    } catch (e) { toast(e.message, "error"); } finally { busy = false; }
  }
  async function finishSkip() {  // the undo window closed: give the lease back
    const ps = pendingSkip;
    if (!ps) return;
    pendingSkip = null; clearTimeout(ps.timer); skipBar("");
    try {
      await api("POST", `/api/assignments/${ps.a.assignment_id}/release`);
      LS.removeItem(draftKey(ps.a.assignment_id));
    } catch (e) { /* already expired or released: nothing to undo anymore */ }
    if (!next && cur) await prefetch();
  }
  function undoSkip() {
    const ps = pendingSkip;
    if (!ps) return;
    pendingSkip = null; clearTimeout(ps.timer); skipBar("");
    if (cur) next = cur;  // the item shown meanwhile waits as the prefetched one
    show(ps.a);
    toast("Skip undone");
  }
  $("submit").addEventListener("click", submit);
  $("skip").addEventListener("click", skip);
  document.addEventListener("keydown", (e) => {
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey || !typing)) {
      e.preventDefault();
      if (!e.repeat) submit();  // a held Enter never carries over to the next item
    }
    else if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    else if (e.key === "s" || e.key === "S") { e.preventDefault(); skip(); }
    else if (e.key === "Escape" && skipArmed) disarm();
    else if ((e.key === "z" || e.key === "Z") && pendingSkip) { e.preventDefault(); undoSkip(); }
  });
  setInterval(() => {
    for (const a of [cur, next]) if (a) api("POST", `/api/assignments/${a.assignment_id}/heartbeat`).catch(() => {});
  }, 60000);
  (async () => {
    await myProgress();
    try {
      if (paused) { show(null); $("done").hidden = true; } else { show(await claim([])); await prefetch(); }
    } catch (e) { toast(e.message, "error"); }
    body.dataset.ready = "1";
  })();
})();
