// Spoken-caption widget: image, the 7 guiding questions, voice consent, and a recorder with level
// meter, timer (minimum / target), pause and resume. Every MediaRecorder slice is first written to
// IndexedDB (the outbox), then uploaded as a numbered, sha256-checked chunk; it leaves the outbox
// only when the server acknowledged it. Failed uploads are retried with back-off for as long as the
// page lives, and again after a reload or a browser restart; the recorder shows what is not yet
// uploaded. "Stop and send" waits for the outbox to empty, then finalizes with the page's chunk
// count per part; the server answers with the exact chunks it lacks, and the page sends them.
// After a reload the open recording resumes as a new part. The server assembles, checks,
// transcribes and cleans; the submit payload is the one the server builds from the recording.
"use strict";
(() => {
  const { api, el, toast } = Pixmo;
  const BASE = "/api/tasks/caption";
  const MIMES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4;codecs=mp4a.40.2", "audio/mp4"];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const fmt = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

  function pickMime() {
    if (!window.MediaRecorder) return null;
    for (const m of MIMES) if (MediaRecorder.isTypeSupported(m)) return m;
    return "";
  }
  function micError(e) {
    if (!navigator.mediaDevices || !window.MediaRecorder) return "This browser cannot record audio (no MediaRecorder).";
    if (e && (e.name === "NotAllowedError" || e.name === "SecurityError")) return "Microphone access was denied: allow it in the browser and try again.";
    if (e && (e.name === "NotFoundError" || e.name === "OverconstrainedError")) return "No microphone was found: plug one in and try again.";
    return "The microphone could not be opened: " + (e && e.message ? e.message : e);
  }
  async function sha256(buf) {
    const h = await crypto.subtle.digest("SHA-256", buf);
    return Array.from(new Uint8Array(h), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  // The outbox: chunks waiting for the server's acknowledgement, in IndexedDB (survives reloads).
  const Outbox = (() => {
    let dbp = null;
    const open = () => dbp || (dbp = new Promise((res, rej) => {
      const r = indexedDB.open("pixmo-audio-outbox", 1);
      r.onupgradeneeded = () => r.result.createObjectStore("chunks", { keyPath: "key" });
      r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error);
    }));
    async function tx(mode, fn) {
      const db = await open();
      return new Promise((res, rej) => {
        const t = db.transaction("chunks", mode), req = fn(t.objectStore("chunks"));
        t.oncomplete = () => res(req.result); t.onerror = () => rej(t.error); t.onabort = () => rej(t.error);
      });
    }
    return {
      put: (c) => tx("readwrite", (st) => st.put(c)),
      del: (key) => tx("readwrite", (st) => st.delete(key)),
      list: async (rid) => (await tx("readonly", (st) => st.getAll())).filter((c) => c.rid === rid)
        .sort((a, b) => a.seg - b.seg || a.seq - b.seq),
    };
  })();
  const manifestKey = (rid) => `pixmo-rec-${rid}`;
  const loadManifest = (rid) => JSON.parse(localStorage.getItem(manifestKey(rid)) || "{}");

  // One upload try: "ok" (acknowledged), "drop" (can never succeed: the server says why), or "retry".
  async function putChunk(c) {
    const headers = { "X-CSRF-Token": Pixmo.cookie("pixmo_csrf"), "X-Chunk-Sha256": c.sha,
      "X-Elapsed-Ms": String(Math.round(c.ms)), "Content-Type": "application/octet-stream" };
    try {
      const r = await fetch(`${BASE}/recordings/${c.rid}/chunks/${c.seg}/${c.seq}`, { method: "PUT", body: c.buf, headers, credentials: "same-origin" });
      if (r.ok) return ["ok"];
      const d = await r.json().catch(() => ({}));
      if ([404, 409, 413, 415].includes(r.status)) return ["drop", d.detail || r.statusText];
      return ["retry", d.detail || r.statusText];
    } catch (e) { return ["retry", "no connection"]; }
  }

  function mount(root, item, draft, onChange) {
    const aid = Number(document.body.dataset.assignmentId);
    const q = item.task.questions || [];
    const status = el("p", { class: "caption-status", id: "caption-status" }, "");
    const timer = el("span", { id: "caption-timer", class: "caption-timer" }, "0:00");
    const bar = el("div", { id: "caption-level" });
    const meter = el("div", { class: "caption-meter", title: "input level" }, bar);
    const btn = (id, text, fn) => el("button", { type: "button", id, onclick: fn }, text);
    const recBtn = btn("caption-record", "Record", () => record());
    const pauseBtn = btn("caption-pause", "Pause", () => pause());
    const stopBtn = btn("caption-stop", "Stop and send", () => stop());
    const restartBtn = btn("caption-restart", "Start over", () => restart());
    const result = el("div", { id: "caption-result", class: "caption-result" });
    const pendingEl = el("p", { id: "caption-pending", class: "warning" }, "");
    pendingEl.hidden = true;
    const consentBox = el("div", { id: "caption-consent", class: "card" });
    Object.assign(meter.style, { display: "inline-block", width: "160px", height: "10px", background: "#ddd", verticalAlign: "middle" });
    Object.assign(bar.style, { display: "block", width: "0%", height: "100%", background: "#2a7" });
    const controls = el("div", { class: "caption-controls" }, recBtn, " ", pauseBtn, " ", stopBtn, " ", restartBtn, " ", meter, " ", timer);
    const img = el("img", { src: item.media_url, alt: "image to describe", class: "caption-image" });
    Object.assign(img.style, { maxWidth: "100%", maxHeight: "60vh" });
    root.replaceChildren(el("div", { class: "caption-task" }, img,
      el("div", {}, el("h3", {}, "Describe the image out loud, answering:"), el("ol", { class: "caption-questions" }, ...q.map((t) => el("li", {}, t))),
        consentBox, controls, status, pendingEl, result)));

    let cfg = { min_seconds: 60, target_seconds: 90, chunk_seconds: 3 };
    let rec = null, mr = null, stream = null, actx = null, raf = 0, tick = 0;
    let seg = 0, seq = 0, baseMs = 0, segStart = 0, pausedMs = 0, pauseAt = 0, saves = Promise.resolve();
    let payload = null, dead = false, pumping = false, wake = null, lastErr = "";
    const pending = new Map();  // outbox entries of this recording, by key

    const elapsed = () => baseMs + (segStart ? (pauseAt || performance.now()) - segStart - pausedMs : 0);
    const setState = (s) => { document.body.dataset.captionState = s; };
    function buttons(state) {
      recBtn.disabled = !["idle", "resumable", "short"].includes(state);
      recBtn.textContent = state === "idle" ? "Record" : "Resume recording";
      pauseBtn.disabled = !["recording", "paused"].includes(state);
      pauseBtn.textContent = state === "paused" ? "Continue" : "Pause";
      stopBtn.disabled = !["recording", "paused", "resumable"].includes(state);
      stopBtn.textContent = state === "resumable" ? "Send what is recorded" : "Stop and send";
      restartBtn.disabled = !["resumable", "short"].includes(state);
      setState(state);
    }
    function showTimer() {
      const s = elapsed() / 1000;
      const hint = s < cfg.min_seconds ? ` (keep talking: at least ${fmt(cfg.min_seconds)})`
        : s < cfg.target_seconds ? ` (good; aim for ${fmt(cfg.target_seconds)})` : " (great)";
      timer.textContent = fmt(s) + hint;
    }

    function showPending() {
      const n = pending.size;
      document.body.dataset.pending = String(n);
      pendingEl.hidden = n === 0;
      pendingEl.textContent = n ? `${n} part${n > 1 ? "s" : ""} (about ${fmt(n * cfg.chunk_seconds)}) not uploaded yet: kept in this ` +
        `browser and retried${lastErr ? " (" + lastErr + ")" : ""}. Keep this page open or come back later.` : "";
    }
    function nap(ms) { return new Promise((r) => { const t = setTimeout(r, ms); wake = () => { clearTimeout(t); r(); }; }); }
    window.addEventListener("online", () => wake && wake());
    async function pump() {  // uploads the outbox in order, for as long as the page lives
      if (pumping) return;
      pumping = true;
      let backoff = 0;
      try {
        while (pending.size && !dead) {
          const c = [...pending.values()].sort((a, b) => a.seg - b.seg || a.seq - b.seq)[0];
          const [res, why] = await putChunk(c);
          if (res === "retry") {
            lastErr = why; backoff = Math.min(backoff ? backoff * 2 : 500, 8000); showPending();
            await nap(backoff);
            continue;
          }
          if (res === "drop") toast(`Part ${c.seg}, chunk ${c.seq} was refused: ${why}`, "error");
          backoff = 0; lastErr = "";
          pending.delete(c.key); await Outbox.del(c.key).catch(() => {});
          document.body.dataset.chunks = String(Number(document.body.dataset.chunks || 0) + (res === "ok" ? 1 : 0));
          showPending();
        }
      } finally { pumping = false; }
    }
    async function keep(c) {  // into the outbox first, then upload
      try { await Outbox.put(c); } catch (e) { toast("This browser could not keep a copy of the audio: " + e.message, "error"); }
      const m = loadManifest(c.rid);
      m[c.seg] = Math.max(m[c.seg] || 0, c.seq + 1);
      localStorage.setItem(manifestKey(c.rid), JSON.stringify(m));
      pending.set(c.key, c); showPending(); pump();
    }
    async function restore() {  // after a reload: the outbox of this recording is sent again
      const kept = await Outbox.list(rec.recording_id).catch(() => []);
      for (const c of kept) pending.set(c.key, c);
      const m = loadManifest(rec.recording_id);
      const segs = [...kept.map((c) => c.seg), ...Object.keys(m).map(Number)];
      if (segs.length) seg = Math.max(seg, Math.max(...segs) + 1);
      for (const c of kept) baseMs = Math.max(baseMs, c.ms);
      showPending(); pump();
      return kept.length;
    }
    async function drain() {
      while (pending.size && !dead) {
        status.textContent = "Waiting for the network to upload the rest of the recording…";
        pump(); await sleep(250);
      }
    }

    async function consent() {
      const c = await api("GET", `${BASE}/consent`);
      if (c.consented) { consentBox.hidden = true; return true; }
      consentBox.hidden = false;
      consentBox.replaceChildren(el("p", {}, c.text), el("button", { type: "button", id: "caption-consent-agree", class: "primary",
        onclick: async () => { await api("POST", `${BASE}/consent`, { agree: true }); consentBox.hidden = true; await init(); } }, "I agree"));
      buttons("blocked");
      return false;
    }
    async function init() {
      if (!(await consent()) || dead) return;
      const mime = pickMime();
      if (mime === null) { status.textContent = micError(); buttons("blocked"); return; }
      rec = await api("POST", `${BASE}/recordings`, { assignment_id: aid, mime: mime || "audio/webm" });
      cfg = rec.config;
      document.body.dataset.recordingId = rec.recording_id;
      seg = rec.next_segment; baseMs = rec.elapsed_ms;
      if (rec.status !== "recording") { showTimer(); return poll(); }
      const kept = await restore(); showTimer();
      if (rec.bytes > 0 || kept) { status.textContent = `Resuming: ${fmt(rec.elapsed_ms / 1000)} already saved on the server.`; buttons("resumable"); }
      else buttons("idle");
    }

    async function restart() {
      if (!confirm("Discard this recording and start again?")) return;
      const old = rec.recording_id;
      rec = await api("POST", `${BASE}/recordings`, { assignment_id: aid, mime: pickMime() || "audio/webm", restart: true });
      for (const c of await Outbox.list(old).catch(() => [])) await Outbox.del(c.key).catch(() => {});
      pending.clear(); localStorage.removeItem(manifestKey(old)); showPending();
      document.body.dataset.recordingId = rec.recording_id;
      seg = 0; baseMs = 0; showTimer(); status.textContent = "Started over."; buttons("idle");
    }
    async function record() {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: !!cfg.echo_cancellation,
          autoGainControl: !!cfg.auto_gain, noiseSuppression: !!cfg.noise_suppression } });
      } catch (e) { status.textContent = micError(e); return; }
      const mime = pickMime();
      mr = new MediaRecorder(stream, mime ? { mimeType: mime } : undefined);
      seq = 0; pausedMs = 0; pauseAt = 0;
      const mySeg = seg, rid = rec.recording_id;
      mr.ondataavailable = (ev) => {
        if (!ev.data || !ev.data.size) return;
        const n = seq++, ms = elapsed();
        saves = saves.then(async () => {
          const buf = await ev.data.arrayBuffer();
          await keep({ key: `${rid}/${mySeg}/${n}`, rid, seg: mySeg, seq: n, ms, buf, sha: await sha256(buf) });
        });
      };
      meterStart();
      mr.start(Math.round(cfg.chunk_seconds * 1000));
      segStart = performance.now();
      tick = setInterval(showTimer, 250);
      status.textContent = "Recording… describe everything you see.";
      buttons("recording");
    }
    function meterStart() {
      try {
        actx = new AudioContext();
        const an = actx.createAnalyser(); an.fftSize = 1024;
        actx.createMediaStreamSource(stream).connect(an);
        const data = new Float32Array(an.fftSize);
        const loop = () => {
          an.getFloatTimeDomainData(data);
          let s = 0; for (const v of data) s += v * v;
          const db = 10 * Math.log10(s / data.length + 1e-12);
          bar.style.width = Math.max(0, Math.min(100, (db + 60) * 100 / 60)) + "%";
          root.dataset.level = db.toFixed(1);
          if (!(Number(root.dataset.levelMax) >= db)) root.dataset.levelMax = db.toFixed(1);
          raf = requestAnimationFrame(loop);
        };
        loop();
      } catch (e) { /* the meter is optional */ }
    }
    function pause() {
      if (!mr) return;
      if (mr.state === "recording") { mr.pause(); pauseAt = performance.now(); buttons("paused"); status.textContent = "Paused."; }
      else if (mr.state === "paused") { mr.resume(); pausedMs += performance.now() - pauseAt; pauseAt = 0; buttons("recording"); status.textContent = "Recording…"; }
    }
    async function stopRecorder() {
      if (!mr) return;
      if (pauseAt) { pausedMs += performance.now() - pauseAt; pauseAt = 0; }
      const done = new Promise((r) => { mr.onstop = r; });
      mr.stop(); await done;
      baseMs = elapsed(); segStart = 0; seg += 1;
      clearInterval(tick); cancelAnimationFrame(raf);
      stream.getTracks().forEach((t) => t.stop());
      if (actx) actx.close().catch(() => {});
      mr = null; bar.style.width = "0%";
    }
    async function stop() {
      await stopRecorder();
      buttons("sending"); status.textContent = "Uploading the last part…";
      await saves;
      const rid = rec.recording_id;
      for (;;) {
        await drain();
        if (dead) return;
        try {
          rec = await api("POST", `${BASE}/recordings/${rid}/finalize`, { segments: loadManifest(rid) });
          localStorage.removeItem(manifestKey(rid));
          break;
        } catch (e) {
          const missing = (e.data && e.data.missing) || [];
          const kept = missing.length ? await Outbox.list(rid).catch(() => []) : [];
          const have = kept.filter((c) => missing.some(([sg, sq]) => sg === c.seg && sq === c.seq));
          if (e.status === 409 && have.length) { for (const c of have) pending.set(c.key, c); showPending(); continue; }
          if (e.status === 409 && missing.length) e.message += " This browser has no copy of them: record more, or start over.";
          status.textContent = e.message; toast(e.message, "error"); buttons("short");
          document.body.dataset.captionError = e.message;
          return;
        }
      }
      await poll();
    }
    async function poll() {
      buttons("processing"); status.textContent = "Transcribing…";
      for (let i = 0; !dead; i++) {
        rec = await api("GET", `${BASE}/recordings/${rec.recording_id}`);
        if (rec.status === "cleaned" || rec.status === "failed") break;
        status.textContent = rec.status === "transcribed" ? "Cleaning up the caption…" : "Transcribing…";
        await sleep(Math.min(2000, 300 + 100 * i));
      }
      if (dead) return;
      if (rec.status === "failed") { status.textContent = "Processing failed: " + (rec.error || "unknown error"); buttons("idle"); return; }
      payload = await api("GET", `${BASE}/recordings/${rec.recording_id}/payload`);
      result.replaceChildren(
        el("h4", {}, "Transcript"), el("p", { id: "caption-transcript" }, rec.transcript || "(no words)"),
        el("h4", {}, "Caption"), el("p", { id: "caption-caption" }, rec.caption || ""),
        ...(rec.flags || []).map((f) => el("p", { class: "warning caption-flag" }, "Flag for review: " + f.message)));
      status.textContent = "Done: check the transcript, then submit.";
      buttons("ready");
      onChange({ recording_id: rec.recording_id });
    }

    init().catch((e) => { status.textContent = e.message; toast(e.message, "error"); });
    return {
      payload: () => payload,
      draft: () => ({ recording_id: rec ? rec.recording_id : null }),
      validate: () => (payload ? null : "Record your description and wait for the transcript first"),
      destroy: () => {
        dead = true; clearInterval(tick); cancelAnimationFrame(raf);
        if (mr && mr.state !== "inactive") mr.stop();
        if (stream) stream.getTracks().forEach((t) => t.stop());
        root.replaceChildren();
      },
    };
  }
  Pixmo.tasks.caption = { mount };
})();
