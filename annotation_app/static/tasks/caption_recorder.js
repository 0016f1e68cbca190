// Spoken-caption widget: image, the 7 guiding questions, voice consent, and a recorder with level
// meter, timer (minimum / target), pause and resume. MediaRecorder slices are uploaded as numbered
// chunks every few seconds (sha256-checked, retried), so a crash loses at most one slice; after a
// reload the open recording resumes as a new part. The server assembles, checks, transcribes and
// cleans; the submit payload is the one the server builds from the processed recording.
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
  async function putChunk(rid, seg, seq, blob, elapsedMs) {
    const buf = await blob.arrayBuffer();
    const headers = { "X-CSRF-Token": Pixmo.cookie("pixmo_csrf"), "X-Chunk-Sha256": await sha256(buf),
      "X-Elapsed-Ms": String(Math.round(elapsedMs)), "Content-Type": "application/octet-stream" };
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await fetch(`${BASE}/recordings/${rid}/chunks/${seg}/${seq}`, { method: "PUT", body: buf, headers, credentials: "same-origin" });
        if (r.ok) return r.json();
        const d = await r.json().catch(() => ({}));
        if (r.status < 500 && r.status !== 429) throw Object.assign(new Error(d.detail || r.statusText), { fatal: true });
      } catch (e) { if (e.fatal || attempt >= 6) throw e; }
      await sleep(300 * 2 ** attempt);
    }
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
    const consentBox = el("div", { id: "caption-consent", class: "card" });
    Object.assign(meter.style, { display: "inline-block", width: "160px", height: "10px", background: "#ddd", verticalAlign: "middle" });
    Object.assign(bar.style, { display: "block", width: "0%", height: "100%", background: "#2a7" });
    const controls = el("div", { class: "caption-controls" }, recBtn, " ", pauseBtn, " ", stopBtn, " ", restartBtn, " ", meter, " ", timer);
    const img = el("img", { src: item.media_url, alt: "image to describe", class: "caption-image" });
    Object.assign(img.style, { maxWidth: "100%", maxHeight: "60vh" });
    root.replaceChildren(el("div", { class: "caption-task" }, img,
      el("div", {}, el("h3", {}, "Describe the image out loud, answering:"), el("ol", { class: "caption-questions" }, ...q.map((t) => el("li", {}, t))),
        consentBox, controls, status, result)));

    let cfg = { min_seconds: 60, target_seconds: 90, chunk_seconds: 3 };
    let rec = null, mr = null, stream = null, actx = null, raf = 0, tick = 0;
    let seg = 0, seq = 0, baseMs = 0, segStart = 0, pausedMs = 0, pauseAt = 0, uploads = Promise.resolve(), uploadErr = null;
    let payload = null, dead = false;
    const elapsed = () => baseMs + (segStart ? (pauseAt || performance.now()) - segStart - pausedMs : 0);
    const setState = (s) => { document.body.dataset.captionState = s; };
    function buttons(state) {
      recBtn.disabled = !["idle", "resumable", "short"].includes(state);
      recBtn.textContent = state === "idle" ? "Record" : "Resume recording";
      pauseBtn.disabled = !["recording", "paused"].includes(state);
      pauseBtn.textContent = state === "paused" ? "Continue" : "Pause";
      stopBtn.disabled = !["recording", "paused"].includes(state);
      restartBtn.disabled = !["resumable", "short"].includes(state);
      setState(state);
    }
    function showTimer() {
      const s = elapsed() / 1000;
      const hint = s < cfg.min_seconds ? ` (keep talking: at least ${fmt(cfg.min_seconds)})`
        : s < cfg.target_seconds ? ` (good; aim for ${fmt(cfg.target_seconds)})` : " (great)";
      timer.textContent = fmt(s) + hint;
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
      seg = rec.next_segment; baseMs = rec.elapsed_ms; showTimer();
      if (rec.status !== "recording") return poll();
      if (rec.bytes > 0) { status.textContent = `Resuming: ${fmt(rec.elapsed_ms / 1000)} already saved on the server.`; buttons("resumable"); }
      else buttons("idle");
    }

    async function restart() {
      if (!confirm("Discard this recording and start again?")) return;
      rec = await api("POST", `${BASE}/recordings`, { assignment_id: aid, mime: pickMime() || "audio/webm", restart: true });
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
      seq = 0; pausedMs = 0; pauseAt = 0; uploadErr = null;
      const mySeg = seg;
      mr.ondataavailable = (ev) => {
        if (!ev.data || !ev.data.size) return;
        const n = seq++, ms = elapsed();
        uploads = uploads.then(() => putChunk(rec.recording_id, mySeg, n, ev.data, ms))
          .then(() => { document.body.dataset.chunks = String(Number(document.body.dataset.chunks || 0) + 1); })
          .catch((e) => { uploadErr = e; status.textContent = "Upload failed: " + e.message; });
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
      await uploads;
      if (uploadErr) { buttons("resumable"); return; }
      try {
        rec = await api("POST", `${BASE}/recordings/${rec.recording_id}/finalize`);
      } catch (e) {
        status.textContent = e.message; toast(e.message, "error"); buttons("short");
        document.body.dataset.captionError = e.message;
        return;
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
