// admin-staff.js — staff accounts (admin only): the list, create, edit roles/teams/display name,
// deactivate and reactivate (confirmed first), and reset a password.

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import {
  $, bindReveal, button, cell, checkboxes, checkedValues, clearError, confirm, describeBy, make, openDialog, say,
  showError,
} from "./admin-ui.js";

export const ROLES = ["reception", "counsellor", "ambulant", "lead", "supervisor", "admin", "auditor"];
const MIN_PASSWORD = 10;
let page = null;
let people = [];
let editing = null; // the account in the edit or password dialog
let hideCreate = () => {};
let hidePassword = () => {};

const url = (username) => `/api/v1/admin/staff/${encodeURIComponent(username)}`;
const roleName = (r) => i18n.t(`admin.role.${r}`) === `admin.role.${r}` ? r : i18n.t(`admin.role.${r}`);
const roleChoices = () => ROLES.map((r) => ({ id: r, label: roleName(r) }));
const teamChoices = () => page.teams.map((t) => ({ id: t.id, label: t.name }));
const yesNo = (on) => i18n.t(on ? "admin.yes" : "admin.no");
const byKey = (key) => () => document.querySelector(`#staff-rows [data-key="${CSS.escape(key)}"]`) ?? $("staff-heading");

export async function reload() {
  const r = await api.get("/api/v1/admin/staff");
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError($("staff-load-error"), r);
  $("staff-load-error").textContent = "";
  people = r.data.staff ?? [];
  render();
}

export function render() {
  if (!page) return;
  const focused = document.activeElement?.closest("#staff-rows") ? document.activeElement.dataset.key : null;
  $("staff-rows").replaceChildren(...people.map((s, i) => {
    const head = cell("admin.col.username", s.username, true);
    head.id = `staff-row-${i}`;
    const act = (key, what, fn, opts = {}) =>
      button(key, fn, { "data-key": `${what}:${s.username}`, "aria-describedby": head.id, ...opts });
    return make("tr", { className: s.active === false ? "row--inactive" : "" },
      head,
      cell("admin.col.name", s.display_name),
      cell("admin.col.roles", (s.roles ?? []).map(roleName).join(", ")),
      cell("admin.col.teams", (s.teams ?? []).map(page.teamName).join(", ")),
      cell("admin.col.active", yesNo(s.active !== false)),
      cell("admin.col.locked", yesNo(Boolean(s.locked))),
      cell("admin.col.actions", make("div", { className: "row-actions" },
        act("admin.edit", "edit", () => openEdit(s)),
        s.active === false
          ? act("admin.reactivate", "active", () => setActive(s, true))
          : act("admin.deactivate", "active", () => setActive(s, false), { danger: true }),
        act("admin.resetPassword", "password", () => openPassword(s)))));
  }));
  if (focused) byKey(focused)().focus();
}

async function create(event) {
  event.preventDefault();
  const form = $("create-form");
  const err = $("create-error");
  clearError(err, form);
  const username = $("create-username").value.trim();
  const displayName = $("create-name").value.trim();
  const password = $("create-password").value;
  if (!username) return showError(err, i18n.t("admin.usernameMissing"), $("create-username"));
  if (!displayName) return showError(err, i18n.t("admin.nameMissing"), $("create-name"));
  if (password.length < MIN_PASSWORD) return showError(err, i18n.t("admin.passwordShort"), $("create-password"));
  $("create-submit").disabled = true;
  const r = await api.post("/api/v1/admin/staff", {
    username, display_name: displayName, password, roles: checkedValues($("create-roles")), teams: checkedValues($("create-teams")),
  });
  $("create-submit").disabled = false;
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError(err, r);
  form.reset();
  hideCreate();
  say($("staff-status"), "admin.created", { username });
  await reload();
  page.changed();
}

function openEdit(s) {
  editing = s;
  clearError($("edit-error"), $("edit-form"));
  i18n.text($("edit-heading"), "admin.editHeading", { username: s.username });
  $("edit-name").value = s.display_name ?? "";
  checkboxes($("edit-roles"), "edit-role", roleChoices(), s.roles ?? []);
  checkboxes($("edit-teams"), "edit-team", teamChoices(), s.teams ?? []);
  describeBy($("edit-form"), $("edit-error"));
  openDialog($("edit"), byKey(`edit:${s.username}`));
}

async function saveEdit(event) {
  event.preventDefault();
  const err = $("edit-error");
  clearError(err, $("edit-form"));
  const displayName = $("edit-name").value.trim();
  if (!displayName) return showError(err, i18n.t("admin.nameMissing"), $("edit-name"));
  $("edit-submit").disabled = true;
  const r = await api.request("PATCH", url(editing.username), {
    display_name: displayName, roles: checkedValues($("edit-roles")), teams: checkedValues($("edit-teams")),
  });
  $("edit-submit").disabled = false;
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError(err, r);
  $("edit").close("done");
  say($("staff-status"), "admin.updated", { username: editing.username });
  await reload();
  page.changed();
}

async function setActive(s, active) {
  const back = byKey(`active:${s.username}`);
  const sure = await confirm(active ? "admin.confirmReactivate" : "admin.confirmDeactivate", { username: s.username }, back,
    active ? "admin.reactivate" : "admin.deactivate");
  if (!sure) return;
  const r = await api.request("PATCH", url(s.username), { active });
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError($("staff-load-error"), r);
  $("staff-load-error").textContent = "";
  say($("staff-status"), active ? "admin.reactivated" : "admin.deactivated", { username: s.username });
  await reload();
  back()?.focus();
  page.changed();
}

function openPassword(s) {
  editing = s;
  clearError($("password-error"), $("password-form"));
  $("password-new").value = "";
  hidePassword();
  i18n.text($("password-heading"), "admin.passwordHeading", { username: s.username });
  openDialog($("password"), byKey(`password:${s.username}`));
}

async function savePassword(event) {
  event.preventDefault();
  const err = $("password-error");
  clearError(err, $("password-form"));
  const password = $("password-new").value;
  if (password.length < MIN_PASSWORD) return showError(err, i18n.t("admin.passwordShort"), $("password-new"));
  $("password-submit").disabled = true;
  const r = await api.post(`${url(editing.username)}/password`, { password });
  $("password-submit").disabled = false;
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError(err, r);
  $("password-new").value = "";
  $("password").close("done");
  say($("staff-status"), "admin.passwordReset", { username: editing.username });
  await reload();
  page.changed();
}

export async function start(shared) {
  page = shared;
  checkboxes($("create-roles"), "create-role", roleChoices());
  checkboxes($("create-teams"), "create-team", teamChoices());
  describeBy($("create-form"), $("create-error"));
  describeBy($("password-form"), $("password-error"));
  hideCreate = bindReveal($("create-password"), $("create-reveal"));
  hidePassword = bindReveal($("password-new"), $("password-reveal"));
  $("create-form").addEventListener("submit", create);
  $("edit-form").addEventListener("submit", saveEdit);
  $("password-form").addEventListener("submit", savePassword);
  i18n.onChange(() => {
    const keep = (box, prefix, choices) => checkboxes(box, prefix, choices, checkedValues(box));
    keep($("create-roles"), "create-role", roleChoices());
    if ($("edit").open) keep($("edit-roles"), "edit-role", roleChoices());
  });
  await reload();
}
