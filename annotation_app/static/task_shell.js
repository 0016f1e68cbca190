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

  const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(""));
  const draftKey = (id) => "pixmo-draft-" + id;
  function localDraft(id) { try { return JSON.parse(LS.getItem(draftKey(id))); } catch { return null; } }
  async function claim(exclude) { return (await api("POST", `/api/campaigns/${cid}/claim`, { exclude })).assignment; }

  function show(a) {
    if (ctrl) ctrl.destroy();
    cur = a; ctrl = null; started = Date.now();
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
    show(n || await claim([]));
    await prefetch();
  }
  async function submit() {
    if (!cur || !ctrl || busy) return;
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
      await advance();
    } finally { busy = false; }
  }
  async function skip() {
    if (!cur || busy) return;
    busy = true;
    try {
      await api("POST", `/api/assignments/${cur.assignment_id}/release`);
      LS.removeItem(draftKey(cur.assignment_id));
      await advance();
    } catch (e) { toast(e.message, "error"); } finally { busy = false; }
  }
  $("submit").addEventListener("click", submit);
  $("skip").addEventListener("click", skip);
  document.addEventListener("keydown", (e) => {
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey || !typing)) { e.preventDefault(); submit(); }
    else if (!typing && !e.ctrlKey && !e.metaKey && (e.key === "s" || e.key === "S")) { e.preventDefault(); skip(); }
  });
  setInterval(() => {
    for (const a of [cur, next]) if (a) api("POST", `/api/assignments/${a.assignment_id}/heartbeat`).catch(() => {});
  }, 60000);
  (async () => {
    try { show(await claim([])); await prefetch(); body.dataset.ready = "1"; }
    catch (e) { toast(e.message, "error"); }
  })();
})();
