// Shared helpers: JSON API calls with the CSRF header, toasts, logout.
"use strict";
const Pixmo = (() => {
  function cookie(name) {
    const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  class ApiError extends Error {
    constructor(status, detail, data) { super(detail); this.status = status; this.data = data || {}; }
  }
  // A same-origin path to go to after login, or "/": never another site (also not "/\\host", which
  // browsers read as "//host").
  function safeNext(next) {
    if (!next) return "/";
    try {
      const u = new URL(next, location.origin);
      if (u.origin !== location.origin || !next.startsWith("/") || /^[\/\\]{2}/.test(next) || next.includes("\\")) return "/";
      return u.pathname === "/login" ? "/" : u.pathname + u.search + u.hash;
    } catch (e) { return "/"; }
  }
  async function api(method, url, body, opts2) {
    const opts = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (method !== "GET") opts.headers["X-CSRF-Token"] = cookie("pixmo_csrf");
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    const r = await fetch(url, opts);
    if (r.status === 401 && !(opts2 && opts2.noLoginRedirect) && location.pathname !== "/login") {
      location.href = "/login?next=" + encodeURIComponent(location.pathname); throw new ApiError(401, "not logged in");
    }
    const data = r.headers.get("content-type")?.includes("json") ? await r.json() : null;
    if (!r.ok) throw new ApiError(r.status, (data && data.detail) || r.statusText, data);
    return data;
  }
  function toast(msg, kind) {
    const t = document.getElementById("toast");
    if (!t) return;
    t.textContent = msg; t.className = "show " + (kind || "");
    clearTimeout(toast._t); toast._t = setTimeout(() => { t.className = ""; }, 4000);
  }
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined) e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  }
  document.addEventListener("DOMContentLoaded", () => {
    const b = document.getElementById("logout");
    if (b) b.addEventListener("click", async () => { await api("POST", "/api/auth/logout").catch(() => {}); location.href = "/login"; });
  });
  return { api, toast, el, cookie, safeNext, ApiError, tasks: {} };
})();
