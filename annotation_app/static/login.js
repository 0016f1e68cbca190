"use strict";
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = document.getElementById("login-error");
  err.textContent = "";
  try {
    await Pixmo.api("POST", "/api/auth/login", {
      username: document.getElementById("username").value, password: document.getElementById("password").value });
    const next = new URLSearchParams(location.search).get("next");
    location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
  } catch (e) { err.textContent = e.message; }
});
