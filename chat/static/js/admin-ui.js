// admin-ui.js — what the supervisor overview and the administration page share: elements and table
// cells built from server data (textContent only, never innerHTML), dialogs that give focus back,
// form errors from {"error": {"code", "message"}}, and the session gate (logged in, right role).

import * as api from "./api.js";
import * as i18n from "./i18n.js";

export const $ = (id) => document.getElementById(id);

// make("td", {className: "x", text: "…", "aria-describedby": "id"}, ...children)
export function make(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") el.textContent = String(value);
    else if (name === "className") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  el.append(...children);
  return el;
}

// A table cell that carries its column's name, shown before it when the table is stacked (phones).
export function cell(labelKey, content, header = false) {
  const el = document.createElement(header ? "th" : "td");
  if (header) el.scope = "row";
  el.dataset.label = i18n.t(labelKey);
  if (Array.isArray(content)) el.append(...content);
  else if (content instanceof Node) el.append(content);
  else el.textContent = content ?? "";
  return el;
}

export function button(key, onClick, { quiet = true, danger = false, ...props } = {}) {
  const className = ["button", "button--small", quiet && !danger ? "button--quiet" : "", danger ? "button--danger" : ""]
    .filter(Boolean).join(" ");
  const b = make("button", { type: "button", className, text: i18n.t(key), ...props });
  b.addEventListener("click", () => onClick(b));
  return b;
}

// The sentence to show for a failed request: ours for a code we know, else the server's own message.
export function errorText(r) {
  const key = i18n.errorKey(r.code);
  if (key !== "error.generic") return i18n.t(key);
  const message = r.data?.error?.message;
  if (message) return message;
  if (r.status === 404 || r.status === 405) return i18n.t("admin.missing");
  return i18n.t("error.generic");
}

// Every field of the form is described by its error line (role=alert), so the reason is read with the field.
export function describeBy(form, errorEl) {
  for (const el of form.querySelectorAll("input, select, textarea")) {
    const ids = new Set((el.getAttribute("aria-describedby") ?? "").split(" ").filter(Boolean));
    ids.add(errorEl.id);
    el.setAttribute("aria-describedby", [...ids].join(" "));
  }
}

export function showError(errorEl, textOrResult, field) {
  errorEl.textContent = typeof textOrResult === "string" ? textOrResult : errorText(textOrResult);
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

export function clearError(errorEl, form) {
  errorEl.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

// Status lines (role=status): a confirmation after every change.
export function say(el, key, vars) {
  el.textContent = "";
  // A fresh text node each time, so the same sentence twice is announced twice.
  setTimeout(() => i18n.text(el, key, vars), 50);
}

// Native <dialog>: shown modal, and on close focus goes back to the element that opened it, or (when
// that element was redrawn meanwhile) to what `back()` finds now.
export function openDialog(dialog, back) {
  dialog.returnFocus = back;
  dialog.showModal();
}

export function bindDialog(dialog) {
  dialog.addEventListener("close", () => {
    const back = dialog.returnFocus;
    dialog.returnFocus = null;
    const target = typeof back === "function" ? back() : back;
    if (target?.isConnected) target.focus();
  });
  for (const b of dialog.querySelectorAll("[data-close]")) b.addEventListener("click", () => dialog.close("cancel"));
}

// The page's confirm dialog (#confirm): resolves true for the confirming button, false for cancel or Esc.
export function confirm(key, vars, back, confirmKey = "admin.confirmYes") {
  const dialog = $("confirm");
  i18n.text($("confirm-text"), key, vars);
  i18n.text($("confirm-yes"), confirmKey);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.returnValue = "";
    openDialog(dialog, back);
  });
}

// Password fields with a "show password" toggle button next to them: its name stays, aria-pressed says
// whether the password is shown.
export function bindReveal(input, toggle) {
  const show = (on) => {
    input.type = on ? "text" : "password";
    toggle.setAttribute("aria-pressed", String(on));
  };
  toggle.addEventListener("click", () => show(input.type === "password"));
  show(false);
  return () => show(false);
}

// Checkboxes (one .choice each) into a fieldset; values is [{id, label}].
export function checkboxes(container, prefix, values, checked = []) {
  const on = new Set(checked);
  container.replaceChildren(...values.map((v) => {
    const id = `${prefix}-${v.id}`;
    const input = make("input", { type: "checkbox", id, value: v.id });
    input.checked = on.has(v.id);
    return make("div", { className: "choice" }, input, make("label", { for: id, text: v.label }));
  }));
}

export const checkedValues = (container) =>
  [...container.querySelectorAll("input[type=checkbox]:checked")].map((el) => el.value);

// "3 min 05 s", "1 h 02 min"
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
}

export const locale = () => (i18n.current() === "en" ? "en-GB" : "sv-SE");

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(locale(), { dateStyle: "short", timeStyle: "short" });
}

function gate(prefix, key, linkKey, href) {
  $("content").hidden = true;
  $("logout").hidden = true;
  $("gate").hidden = false;
  i18n.text($("gate-text"), `${prefix}.${key}`);
  const link = $("gate-link");
  link.href = href;
  i18n.text(link, linkKey);
}

// The logged-in person was logged out or their session ran out meanwhile.
export function expired(prefix, path) {
  for (const d of document.querySelectorAll("dialog[open]")) d.close();
  gate(prefix, "needLogin", `${prefix}.loginLink`, `/staff?next=${path}`);
}

// Starts the page: language, then who is logged in. Resolves to /staff/me's answer, or null when the
// page shows a gate instead (not logged in, or without one of the roles it needs).
export async function session(prefix, path, allowed) {
  await i18n.init().catch(() => {});
  i18n.bindSwitch($("lang"));
  $("logout").addEventListener("click", async () => {
    await api.post("/api/v1/staff/logout");
    api.setCsrf(null);
    $("who").textContent = "";
    expired(prefix, path);
  });
  const me = await api.get("/api/v1/staff/me");
  if (!me.ok) {
    if (me.status === 401) expired(prefix, path);
    else gate(prefix, "loadFailed", `${prefix}.back`, "/staff");
    return null;
  }
  $("who").textContent = me.data.display_name;
  if (!allowed(me.data.roles ?? [], me.data)) {
    gate(prefix, "needRole", `${prefix}.back`, "/staff");
    return null;
  }
  api.setCsrf(me.data.csrf_token);
  $("gate").hidden = true;
  $("content").hidden = false;
  $("logout").hidden = false;
  return me.data;
}
