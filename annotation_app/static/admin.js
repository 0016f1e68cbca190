// The admin page, campaigns part: list, create (upload, server folder, URL list, shards), status,
// assignment, annotators (reinstate), items and gold, export with progress and download.
"use strict";
const Admin = (() => {
  const { el, api, toast, cookie } = Pixmo;
  const $ = (id) => document.getElementById(id);
  let current = null; // the campaign shown in the panel
  let itemsOffset = 0;
  const names = (s) => s.split(/[,\s]+/).map((x) => x.trim()).filter(Boolean);
  const fail = (e) => toast(e.message, "error");

  // One image per request: the server's body limit is one image (plus multipart framing).
  async function upload(cid, file) {
    const fd = new FormData();
    fd.append("files", file, file.name);
    const r = await fetch(`/api/campaigns/${cid}/images`, { method: "POST", body: fd, credentials: "same-origin",
      headers: { "X-CSRF-Token": cookie("pixmo_csrf"), "Accept": "application/json" } });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Pixmo.ApiError(r.status, data.detail || r.statusText, data);
    return data.item_ids.length;
  }

  async function loadCampaigns() {
    const tbody = document.querySelector("#admin-campaigns tbody");
    tbody.replaceChildren();
    for (const c of await api("GET", "/api/campaigns")) {
      const open = el("button", { type: "button", class: "manage" }, "Manage");
      open.addEventListener("click", () => showCampaign(c.id).catch(fail));
      tbody.append(el("tr", { "data-campaign": c.name, class: current && current.id === c.id ? "selected" : "" },
        el("td", {}, c.name), el("td", {}, c.task_type), el("td", { class: "status" }, c.status), el("td", {}, c.overlap),
        el("td", {}, open)));
    }
  }

  // --- new campaign --------------------------------------------------------------------------
  function source() { return document.querySelector("input[name=source]:checked").value; }

  function showFields() {
    const task = $("c-task").value;
    for (const x of document.querySelectorAll("[data-for-task]")) x.hidden = x.dataset.forTask !== task;
    for (const x of document.querySelectorAll("[data-source]")) x.hidden = x.dataset.source !== source();
  }

  function campaignBody() {
    const num = (id) => ($(id).value === "" ? null : Number($(id).value));
    const config = {};
    const task = $("c-task").value;
    if (num("c-gold-threshold") !== null) Object.assign(config, { gold_threshold: num("c-gold-threshold"), gold_min_items: num("c-gold-min") });
    if (num("c-lease") !== null) config.lease_seconds = num("c-lease");
    if (num("c-gold-share") !== null) config.gold_share = num("c-gold-share");
    if (task === "pointing" && num("c-min-expr") !== null) config.min_expressions = num("c-min-expr");
    if (task === "counting" && $("c-label").value.trim()) config.label = $("c-label").value.trim();
    return { name: $("c-name").value.trim(), task_type: task, instructions: $("c-instructions").value,
      overlap: num("c-overlap") || 1, gold_overlap: num("c-gold-overlap") || 1000, config };
  }

  async function importImages(cid, state) {
    const src = source();
    if (src === "upload") {
      const files = [...$("c-files").files];
      let n = 0;
      for (const [i, f] of files.entries()) {
        state.textContent = `uploading ${i + 1}/${files.length}: ${f.name}`;
        n += await upload(cid, f);
      }
      return n;
    }
    if (src === "urls") return (await api("POST", `/api/campaigns/${cid}/urls`, { urls: $("c-urls").value.split("\n").map((u) => u.trim()).filter(Boolean) })).items;
    const body = src === "folder" ? { folder: $("c-folder").value.trim() } : { shards: $("c-shards").value.trim(), as_gold: $("c-as-gold").checked };
    state.textContent = `importing from the server ${src}...`;
    return (await api("POST", `/api/campaigns/${cid}/import`, body)).items;
  }

  async function create(ev) {
    ev.preventDefault();
    const state = $("create-state");
    const btn = $("create-submit");
    btn.disabled = true;
    try {
      const c = await api("POST", "/api/campaigns", campaignBody());
      state.textContent = `created ${c.name}; importing...`;
      let n = 0;
      try { n = await importImages(c.id, state); } catch (e) { state.textContent = `created ${c.name}, but the import failed: ${e.message}`; throw e; }
      await loadCampaigns();
      await showCampaign(c.id);
      state.textContent = `created ${c.name} with ${n} items`;
      toast(`campaign ${c.name}: ${n} items`);
    } catch (e) { fail(e); } finally { btn.disabled = false; }
  }

  // --- the selected campaign -----------------------------------------------------------------
  async function showCampaign(cid) {
    current = await api("GET", `/api/campaigns/${cid}`);
    $("campaign-panel").hidden = false;
    $("cp-name").textContent = current.name;
    $("cp-status").textContent = `(${current.status}, ${current.progress.items} items, ${current.progress.gold_items} gold)`;
    $("cp-quality").href = `/campaigns/${cid}/quality`;
    $("cp-review").href = `/campaigns/${cid}/review`;
    $("export-state").hidden = true;
    for (const tr of document.querySelectorAll("#admin-campaigns tbody tr")) tr.classList.toggle("selected", tr.dataset.campaign === current.name);
    await Promise.all([loadMembers(), loadAnnotators(), loadItems(true), loadGroupOptions()]);
  }

  async function loadMembers() {
    const ul = $("cp-members");
    ul.replaceChildren();
    const ms = await api("GET", `/api/campaigns/${current.id}/members`);
    if (!ms.length) ul.append(el("li", { class: "muted" }, "nobody: open to every annotator"));
    for (const m of ms) {
      const rm = el("button", { type: "button" }, "Remove");
      rm.addEventListener("click", () => api("DELETE", `/api/campaigns/${current.id}/members/${m.user_id}`).then(loadMembers).catch(fail));
      ul.append(el("li", { "data-member": m.username }, `${m.username} (${m.role}) `, rm));
    }
  }

  async function loadGroupOptions() {
    const sel = $("assign-group");
    sel.replaceChildren(el("option", { value: "" }, "-"));
    for (const g of await api("GET", "/api/groups")) sel.append(el("option", { value: g.name }, `${g.name} (${g.usernames.length})`));
  }

  async function assign(ev) {
    ev.preventDefault();
    try {
      const users = names($("assign-users").value);
      const added = [];
      if (users.length) added.push(...(await api("POST", `/api/campaigns/${current.id}/members`, { usernames: users })).added);
      if ($("assign-group").value) added.push(...(await api("POST", `/api/campaigns/${current.id}/groups`, { group: $("assign-group").value })).added);
      toast(added.length ? `assigned ${added.join(", ")}` : "nobody new assigned");
      $("assign-users").value = "";
      await loadMembers();
    } catch (e) { fail(e); }
  }

  async function setStatus(status) {
    try {
      await api("PUT", `/api/campaigns/${current.id}/status`, { status });
      toast(`campaign ${current.name} is ${status}`);
      await loadCampaigns();
      await showCampaign(current.id);
    } catch (e) { fail(e); }
  }

  async function loadAnnotators() {
    const tbody = document.querySelector("#cp-annotators tbody");
    tbody.replaceChildren();
    for (const a of await api("GET", `/api/campaigns/${current.id}/annotators`)) {
      const cell = el("td", {}, "active");
      if (a.paused) {
        const b = el("button", { type: "button", class: "reinstate" }, "Reinstate");
        b.addEventListener("click", () => api("POST", `/api/campaigns/${current.id}/annotators/${a.user_id}/reinstate`)
          .then(() => { toast(`${a.username} reinstated`); return loadAnnotators(); }).catch(fail));
        cell.replaceChildren(el("span", { class: "warning" }, `paused: ${a.paused.reason} `), b);
      }
      tbody.append(el("tr", { "data-annotator": a.username }, el("td", {}, a.username), el("td", {}, a.submissions),
        el("td", {}, a.gold_items), cell));
    }
  }

  async function loadItems(reset) {
    if (reset) { itemsOffset = 0; document.querySelector("#cp-items tbody").replaceChildren(); }
    const page = await api("GET", `/api/campaigns/${current.id}/items?limit=50&offset=${itemsOffset}&gold_only=${$("gold-only").checked}`);
    const tbody = document.querySelector("#cp-items tbody");
    for (const it of page.items) tbody.append(itemRow(it));
    itemsOffset += page.items.length;
    $("items-count").textContent = `${itemsOffset} of ${page.total}`;
    $("items-more").hidden = itemsOffset >= page.total;
  }

  function itemRow(it) {
    const act = el("td", {});
    const tr = el("tr", { "data-item": it.id }, el("td", {}, el("a", { href: it.media_url, target: "_blank" }, `#${it.id}`)),
      el("td", {}, it.source_path || ""), el("td", {}, `${it.answers} (${it.taken}/${it.overlap})`),
      el("td", { class: "gold" }, it.gold ? JSON.stringify(it.gold).slice(0, 120) : "no"), act);
    const refresh = (gold) => tr.replaceWith(itemRow({ ...it, gold }));
    if (it.gold) {
      const b = el("button", { type: "button", class: "unmark-gold" }, "Unmark gold");
      b.addEventListener("click", () => api("PUT", `/api/items/${it.id}/gold`, { gold: null }).then((r) => refresh(r.gold)).catch(fail));
      act.append(b);
    } else if (it.answers) {
      const b = el("button", { type: "button", class: "mark-gold" }, "Mark gold (its answer)");
      b.addEventListener("click", () => api("POST", `/api/items/${it.id}/gold/from-answer`).then((r) => refresh(r.gold)).catch(fail));
      act.append(b);
    }
    return tr;
  }

  // --- export --------------------------------------------------------------------------------
  async function exportStart(ev) {
    ev.preventDefault();
    const btn = $("export-start");
    btn.disabled = true;
    $("export-state").hidden = false;
    $("export-download").hidden = true;
    try {
      let job = await api("POST", `/api/campaigns/${current.id}/export-jobs`,
        { format: $("export-format").value, include_unreviewed: $("export-unreviewed").checked });
      while (job.status === "queued" || job.status === "running") {
        showJob(job);
        await new Promise((r) => setTimeout(r, 400));
        job = await api("GET", `/api/export-jobs/${job.id}`);
      }
      showJob(job);
      if (job.status !== "done") throw new Error(`export failed: ${job.error || job.status}`);
      const a = $("export-download");
      a.href = `/api/export-jobs/${job.id}/download`;
      a.setAttribute("download", job.filename);
      a.textContent = `Download ${job.filename} (${job.bytes} bytes)`;
      a.hidden = false;
    } catch (e) { fail(e); } finally { btn.disabled = false; }
  }

  function showJob(job) {
    const p = $("export-progress");
    p.max = Math.max(job.total, 1);
    p.value = job.status === "done" ? p.max : job.done;
    $("export-text").textContent = `${job.status}: ${job.done}/${job.total} answers`;
  }

  // --- wiring --------------------------------------------------------------------------------
  async function init() {
    for (const t of await api("GET", "/api/task-types")) $("c-task").append(el("option", { value: t.name }, t.title || t.name));
    $("c-task").addEventListener("change", showFields);
    for (const r of document.querySelectorAll("input[name=source]")) r.addEventListener("change", showFields);
    const preview = () => { $("instructions-preview").textContent = $("c-instructions").value; };
    $("c-instructions").addEventListener("input", preview);
    $("create-form").addEventListener("submit", create);
    $("assign-form").addEventListener("submit", assign);
    $("export-form").addEventListener("submit", exportStart);
    $("gold-only").addEventListener("change", () => loadItems(true).catch(fail));
    $("items-more").addEventListener("click", () => loadItems(false).catch(fail));
    for (const b of document.querySelectorAll("[data-status]")) b.addEventListener("click", () => setStatus(b.dataset.status));
    showFields();
    await loadCampaigns();
    document.body.dataset.ready = "1";
  }
  return { init, loadGroupOptions: () => (current ? loadGroupOptions() : Promise.resolve()) };
})();
Admin.init().catch((e) => Pixmo.toast(e.message, "error"));
