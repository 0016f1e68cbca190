"use strict";
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = document.getElementById("login-error");
  err.textContent = "";
  try {
    await Pixmo.api("POST", "/api/auth/login", {
      username: document.getElementById("username").value, password: document.getElementById("password").value },
      { noLoginRedirect: true });
    location.href = Pixmo.safeNext(new URLSearchParams(location.search).get("next"));
  } catch (e) {
    err.textContent = e.status === 401 ? "Wrong username or password." : e.message;
    document.getElementById("password").select();
  }
});
