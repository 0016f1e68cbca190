// Ask-model-anything widget (and its point-explanations variant): write a question (after marking
// numbered point groups, in the variant); the server drafts an answer with a text-only LLM from OCR
// and a caption; accept it, or reject it with feedback to get a revised draft, or write the answer
// by hand. Accepting or saving builds the payload on the server and submits it.
"use strict";
(() => {
  const { api, el, toast } = Pixmo;

  function mount(root, item, draft, onChange) {
    const type = document.body.dataset.taskType;
    const BASE = `/api/tasks/${type}`;
    const aid = Number(document.body.dataset.assignmentId);
    const withPoints = !!(item.task && item.task.with_points);
    let groups = [{ label: "", points: [] }], payload = null, current = null, busy = false;

    const img = el("img", { src: item.media_url, alt: "image", draggable: "false" });
    Object.assign(img.style, { maxWidth: "100%", maxHeight: "55vh", display: "block" });
    const stage = el("div", { class: "ama-stage" }, img);
    Object.assign(stage.style, { position: "relative", display: "inline-block" });
    const question = el("textarea", { id: "ama-question", rows: "2", placeholder: "Ask anything about this image" });
    const askBtn = el("button", { type: "button", id: "ama-ask", class: "primary" }, "Ask");
    const answer = el("div", { id: "ama-draft", class: "card ama-draft" });
    const roundEl = el("p", { id: "ama-round", class: "muted" });
    const feedback = el("textarea", { id: "ama-feedback", rows: "2", placeholder: "What is wrong with this answer?" });
    const rejectBtn = el("button", { type: "button", id: "ama-reject" }, "Reject and revise");
    const acceptBtn = el("button", { type: "button", id: "ama-accept", class: "primary" }, "Accept");
    const own = el("textarea", { id: "ama-own", rows: "4", placeholder: "…or write the correct answer yourself" });
    const ownBtn = el("button", { type: "button", id: "ama-own-save" }, "Use my answer");
    const groupBox = el("div", { id: "ama-groups" });
    const decide = el("div", { id: "ama-decide", hidden: "" }, roundEl, answer, acceptBtn, " ", feedback, rejectBtn,
      el("div", {}, own, ownBtn));
    root.replaceChildren(el("div", { class: "ama-task" }, stage, withPoints ? groupBox : "",
      el("div", {}, question, askBtn), decide));

    function drawGroups() {
      stage.querySelectorAll(".pt").forEach((m) => m.remove());
      groups.forEach((g, gi) => g.points.forEach((p) => {
        const m = el("div", { class: "pt" }, String(gi + 1));
        Object.assign(m.style, { position: "absolute", left: (100 * p.x / item.width) + "%", top: (100 * p.y / item.height) + "%",
          transform: "translate(-50%,-50%)", background: "#e33", color: "#fff", borderRadius: "50%", width: "18px",
          height: "18px", fontSize: "12px", textAlign: "center", pointerEvents: "none" });
        stage.append(m);
      }));
      groupBox.replaceChildren(...groups.map((g, gi) => el("div", { class: "ama-group" }, `[${gi + 1}] `,
        el("input", { class: "ama-group-label", value: g.label, placeholder: "what these points mark",
          oninput: (e) => { g.label = e.target.value; } }), ` ${g.points.length} point(s)`)),
        el("button", { type: "button", id: "ama-new-group", onclick: () => { groups.push({ label: "", points: [] }); drawGroups(); } }, "New group"));
    }
    if (withPoints) {
      img.addEventListener("click", (e) => {
        if (current) return;
        const r = img.getBoundingClientRect();
        groups[groups.length - 1].points.push({ x: (e.clientX - r.left) * item.width / r.width, y: (e.clientY - r.top) * item.height / r.height });
        drawGroups();
      });
      drawGroups();
    }
    function show(d) {
      current = d; decide.hidden = false; question.value = d.question; question.disabled = true; askBtn.disabled = true;
      answer.textContent = d.answer;
      roundEl.textContent = `Draft ${d.round}` + (d.context && d.context.caption_source ? ` (caption: ${d.context.caption_source})` : "");
      document.body.dataset.amaRound = String(d.round);
      feedback.value = "";
    }
    async function run(fn) {
      if (busy) return; busy = true;
      try { await fn(); } catch (e) { toast(e.message, "error"); } finally { busy = false; }
    }
    async function finish(url, body) {
      payload = await api("POST", url, body);
      onChange({ done: true });
      document.getElementById("submit").click();
    }
    askBtn.addEventListener("click", () => run(async () => {
      const pts = withPoints ? groups.filter((g) => g.points.length).map((g) => ({ label: g.label.trim() || "this", points: g.points })) : [];
      if (withPoints && !pts.length) throw new Error("Click the image to mark what the question is about");
      roundEl.textContent = "Drafting…"; decide.hidden = false;
      show(await api("POST", `${BASE}/drafts`, { assignment_id: aid, question: question.value.trim(), points: pts }));
    }));
    rejectBtn.addEventListener("click", () => run(async () => {
      if (!feedback.value.trim()) { feedback.focus(); throw new Error("Say what is wrong so the model can revise"); }
      answer.textContent = "Revising…";
      show(await api("POST", `${BASE}/drafts/${current.draft_id}/reject`, { feedback: feedback.value.trim() }));
    }));
    acceptBtn.addEventListener("click", () => run(() => finish(`${BASE}/drafts/${current.draft_id}/accept`)));
    ownBtn.addEventListener("click", () => run(() => finish(`${BASE}/assignments/${aid}/final`, { answer: own.value.trim() })));
    api("GET", `${BASE}/assignments/${aid}/drafts`).then((ds) => {
      const last = ds[ds.length - 1];
      if (last) show(last);
      document.body.dataset.amaReady = "1";
    }).catch((e) => toast(e.message, "error"));

    return {
      payload: () => payload,
      draft: () => ({ question: question.value }),
      validate: () => (payload ? null : "Accept a draft, or write the answer yourself"),
      destroy: () => root.replaceChildren(),
    };
  }
  Pixmo.tasks.ama = { mount };
  Pixmo.tasks.point_explanations = { mount };
})();
