// The admin page, people part: users (create, role, active) and groups.
"use strict";
(() => {
  const { el, api, toast } = Pixmo;
  const $ = (id) => document.getElementById(id);
  const fail = (e) => toast(e.message, "error");
  const me = document.body.dataset.role;
  // A manager manages annotators, reviewers and managers; only an admin makes or changes admins.
  const roles = me === "admin" ? ["annotator", "reviewer", "manager", "admin"] : ["annotator", "reviewer", "manager"];

  async function load() {
    const [users, groups] = await Promise.all([api("GET", "/api/users"), api("GET", "/api/groups")]);
    const groupsOf = {};
    for (const g of groups) for (const u of g.usernames) (groupsOf[u] = groupsOf[u] || []).push(g.name);
    const tbody = document.querySelector("#admin-users tbody");
    tbody.replaceChildren();
    for (const u of users) tbody.append(userRow(u, groupsOf[u.username] || []));
    const ul = $("admin-groups");
    ul.replaceChildren();
    if (!groups.length) ul.append(el("li", { class: "muted" }, "no groups yet"));
    for (const g of groups) ul.append(el("li", { "data-group": g.name }, `${g.name}: ${g.usernames.join(", ")}`));
  }

  function userRow(u, groups) {
    const sel = el("select", { class: "role", "aria-label": `role of ${u.username}` });
    for (const r of new Set([...roles, u.role])) sel.append(el("option", { value: r }, r));
    sel.value = u.role;
    sel.disabled = !roles.includes(u.role);
    sel.addEventListener("change", () => api("PATCH", `/api/users/${u.id}`, { role: sel.value })
      .then(() => toast(`${u.username} is now ${sel.value}`)).catch((e) => { sel.value = u.role; fail(e); }));
    const active = el("input", { type: "checkbox", class: "active", "aria-label": `${u.username} active` });
    active.checked = u.active;
    active.disabled = !roles.includes(u.role);
    active.addEventListener("change", () => api("PATCH", `/api/users/${u.id}`, { active: active.checked })
      .then(() => toast(`${u.username} ${active.checked ? "activated" : "deactivated"}`)).catch((e) => { active.checked = u.active; fail(e); }));
    return el("tr", { "data-user": u.username }, el("td", {}, u.username), el("td", {}, sel), el("td", {}, active),
      el("td", {}, groups.join(", ")));
  }

  async function createUser(ev) {
    ev.preventDefault();
    try {
      const u = await api("POST", "/api/users", { username: $("u-name").value.trim(), password: $("u-password").value, role: $("u-role").value });
      toast(`created ${u.role} ${u.username}`);
      $("u-name").value = ""; $("u-password").value = "";
      await load();
    } catch (e) { fail(e); }
  }

  async function addToGroup(ev) {
    ev.preventDefault();
    try {
      const usernames = $("g-users").value.split(/[,\s]+/).filter(Boolean);
      const r = await api("POST", `/api/groups/${encodeURIComponent($("g-name").value.trim())}/members`, { usernames });
      toast(r.added.length ? `added ${r.added.join(", ")}` : "already in the group");
      $("g-users").value = "";
      await load();
      await Admin.loadGroupOptions();
    } catch (e) { fail(e); }
  }

  for (const r of roles) $("u-role").append(el("option", { value: r }, r));
  $("user-form").addEventListener("submit", createUser);
  $("group-form").addEventListener("submit", addToGroup);
  load().then(() => { document.body.dataset.usersReady = "1"; }).catch(fail);
})();
