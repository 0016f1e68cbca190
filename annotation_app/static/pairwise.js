// Pairwise preference widget: the image, the prompt and two anonymous answers (A, B); the rater
// picks A / B / tie / both bad (buttons or keys 1-4, A, B, T, N), may give a reason (R focuses it),
// and submits with Enter (the shared task shell does claiming, drafts and submit).
"use strict";
(() => {
  const { el } = Pixmo;
  const CHOICES = [
    { id: "a", label: "A is better", keys: ["1", "a"] },
    { id: "b", label: "B is better", keys: ["2", "b"] },
    { id: "tie", label: "Tie", keys: ["3", "t"] },
    { id: "both_bad", label: "Both bad", keys: ["4", "n"] },
  ];

  function answerCard(side, text) {
    const body = el("div", { class: "pw-text", id: `pw-answer-${side.toLowerCase()}` }, text || "(empty answer)");
    Object.assign(body.style, { whiteSpace: "pre-wrap", overflowWrap: "anywhere", maxHeight: "40vh", overflowY: "auto" });
    const card = el("div", { class: "card pw-answer", "data-side": side.toLowerCase() }, el("h3", {}, `Answer ${side}`), body);
    Object.assign(card.style, { margin: "0", border: "3px solid transparent" });
    return card;
  }

  function mount(root, item, draft, onChange) {
    const t = item.task || {};
    let choice = (draft && draft.choice) || null;
    const img = el("img", { src: item.media_url, alt: "image", id: "pw-image" });
    Object.assign(img.style, { maxWidth: "100%", maxHeight: "45vh", display: "block", margin: "0 auto" });
    const prompt = el("p", { id: "pw-prompt", class: "card" }, el("strong", {}, "Prompt: "), t.prompt || "");
    const cards = { a: answerCard("A", t.answer_a || ""), b: answerCard("B", t.answer_b || "") };
    const answers = el("div", { class: "pw-answers" }, cards.a, cards.b);
    Object.assign(answers.style, { display: "grid", gridTemplateColumns: "1fr 1fr", gap: "1rem" });
    const buttons = CHOICES.map((c) => el("button", { type: "button", id: `pw-choice-${c.id}`, "data-choice": c.id,
      title: `keys ${c.keys.join(" / ").toUpperCase()}`, onclick: () => pick(c.id) }, `${c.label} (${c.keys[0]})`));
    const bar = el("div", { class: "pw-choices" }, ...buttons);
    Object.assign(bar.style, { display: "flex", gap: ".6rem", margin: ".8rem 0", flexWrap: "wrap" });
    const reason = el("textarea", { id: "pw-reason", rows: "2", maxlength: "2000",
      placeholder: "Why? (optional; press R to type here, Esc to leave)" });
    reason.style.width = "100%";
    if (draft && draft.reason) reason.value = draft.reason;
    root.replaceChildren(el("div", { class: "pw-task" }, img, prompt, answers, bar, reason));

    function paint() {
      for (const b of buttons) b.classList.toggle("primary", b.dataset.choice === choice);
      cards.a.style.borderColor = choice === "a" ? "#2456d6" : choice === "tie" ? "#889" : "transparent";
      cards.b.style.borderColor = choice === "b" ? "#2456d6" : choice === "tie" ? "#889" : "transparent";
      document.body.dataset.pairwiseChoice = choice || "";
    }
    function pick(id) { choice = id; paint(); onChange({ choice, reason: reason.value }); }
    reason.addEventListener("input", () => onChange({ choice, reason: reason.value }));
    function onKey(e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.target === reason) { if (e.key === "Escape") reason.blur(); return; }
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
      const k = e.key.toLowerCase();
      if (k === "r") { e.preventDefault(); reason.focus(); return; }
      const c = CHOICES.find((x) => x.keys.includes(k));
      if (c) { e.preventDefault(); pick(c.id); }
    }
    const withKeys = root.id === "task-root";  // no shortcuts when mounted in the review page (its A/X keys)
    if (withKeys) document.addEventListener("keydown", onKey);
    paint();

    return {
      payload: () => ({ choice, reason: reason.value.trim() }),
      draft: () => ({ choice, reason: reason.value }),
      validate: () => (choice ? null : "Pick A, B, tie or both bad first (keys 1-4)"),
      destroy: () => { document.removeEventListener("keydown", onKey); root.replaceChildren(); },
    };
  }
  Pixmo.tasks.pairwise = { mount };
})();
