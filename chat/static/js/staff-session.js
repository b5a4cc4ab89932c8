// staff-session.js — who is logged in: the login form, the "log in again" dialog shown over the console
// when the session ran out (everything on screen and every draft stays), and logging out. The session
// is the HttpOnly cookie; the CSRF token lives in memory (api.js) only.

import * as api from "./api.js";
import * as i18n from "./i18n.js";

const $ = (id) => document.getElementById(id);
let onLogin = () => {};
let me = null;

export const current = () => me;

// onLogin(me, again): again is true after the "log in again" dialog (the console keeps its state).
export function init(handler) {
  onLogin = handler;
  $("login-form").addEventListener("submit", (e) => submit(e, "", false));
  $("relogin-form").addEventListener("submit", (e) => submit(e, "relogin-", true));
  // The dialog cannot be dismissed: without a session nothing on the console works.
  $("relogin-dialog").addEventListener("cancel", (e) => e.preventDefault());
}

// A sentence for a failed login, in the person's terms.
function loginError(r) {
  if (r.code === "login_failed") return "error.login_failed";
  if (r.status === 429 || r.code === "locked_out") return "error.locked_out";
  if (r.code === "network") return "error.network";
  if (r.code === "origin_forbidden" || r.code === "csrf_failed") return "error.csrf_failed";
  return i18n.errorKey(r.code);
}

async function submit(event, prefix, again) {
  event.preventDefault();
  const user = $(`${prefix}username`);
  const pass = $(`${prefix}password`);
  const error = $(`${prefix}login-error`) ?? $(`${prefix}error`);
  const button = $(`${prefix}login-button`) ?? $(`${prefix}button`);
  error.textContent = "";
  if (!user.value.trim() || !pass.value) {
    (user.value.trim() ? pass : user).focus();
    return i18n.text(error, "staff.loginMissing");
  }
  button.disabled = true;
  const r = await api.post("/api/v1/staff/login", { username: user.value.trim(), password: pass.value });
  button.disabled = false;
  pass.value = "";
  if (!r.ok) {
    pass.focus();
    return i18n.text(error, loginError(r));
  }
  const before = me;
  me = r.data;
  api.setCsrf(me.csrf_token);
  if (again) $("relogin-dialog").close();
  $("login").hidden = true;
  onLogin(me, again && before?.username === me.username);
}

export function enter(data) {
  me = data;
  api.setCsrf(me.csrf_token);
  $("login").hidden = true;
}

// The first page: the login form alone.
export function showLogin(noteKey) {
  me = null;
  api.setCsrf(null);
  $("login").hidden = false;
  if (noteKey) i18n.text($("login-error"), noteKey);
  else $("login-error").textContent = "";
  $("username").focus();
}

// The session ended under the console (expired, or logged out in another tab): log in again on top of it.
export function expired(reasonKey) {
  const dialog = $("relogin-dialog");
  api.setCsrf(null);
  i18n.text($("relogin-reason"), reasonKey);
  $("relogin-error").textContent = "";
  if (me && !$("relogin-username").value) $("relogin-username").value = me.username;
  if (!dialog.open) dialog.showModal();
  ($("relogin-username").value ? $("relogin-password") : $("relogin-username")).focus();
}

export const isExpired = () => $("relogin-dialog").open;

export async function logout() {
  await api.post("/api/v1/staff/logout");
  me = null;
  api.setCsrf(null);
}
