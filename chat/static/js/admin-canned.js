// admin-canned.js — canned answers per team and language: the list (filtered by team and language),
// add, edit and delete for the teams the server names `editable` (admin: every team; lead: their own).

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import {
  $, button, cell, clearError, confirm, describeBy, make, openDialog, say, showError, when,
} from "./admin-ui.js";

let page = null;
let answers = [];
let editable = new Set();
let editing = null; // the answer in the dialog; null while adding

const LANGS = ["sv", "en"];
const langName = (code) => (LANGS.includes(code) ? i18n.t(`admin.lang.${code}`) : code);
const byKey = (key) => () => document.querySelector(`#canned-rows [data-key="${CSS.escape(key)}"]`)
  ?? $("canned-add");

export async function reload() {
  const r = await api.get("/api/v1/staff/canned");
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError($("canned-load-error"), r);
  $("canned-load-error").textContent = "";
  answers = r.data.canned ?? [];
  editable = new Set(r.data.editable ?? []);
  render();
}

function renderFilter() {
  const select = $("canned-team");
  const chosen = select.value;
  const ids = [...new Set([...editable, ...answers.map((a) => a.team)])];
  ids.sort((a, b) => page.teamName(a).localeCompare(page.teamName(b), "sv"));
  select.replaceChildren(make("option", { value: "", text: i18n.t("admin.allTeams") }),
    ...ids.map((id) => make("option", { value: id, text: page.teamName(id) })));
  select.value = ids.includes(chosen) ? chosen : "";
}

export function render() {
  if (!page) return;
  renderFilter();
  const team = $("canned-team").value;
  const lang = $("canned-lang").value;
  const shown = answers.filter((a) => (!team || a.team === team) && (!lang || a.language === lang));
  $("canned-empty").hidden = shown.length > 0;
  $("canned-table").hidden = shown.length === 0;
  $("canned-add").hidden = editable.size === 0;
  const focused = document.activeElement?.closest("#canned-rows") ? document.activeElement.dataset.key : null;
  $("canned-rows").replaceChildren(...shown.map((a) => {
    const head = cell("admin.col.title", a.title, true);
    head.id = `canned-row-${a.id}`;
    const mayEdit = editable.has(a.team);
    const actions = mayEdit
      ? make("div", { className: "row-actions" },
        button("admin.edit", () => openDialogFor(a), { "data-key": `edit:${a.id}`, "aria-describedby": head.id }),
        button("admin.delete", () => remove(a), { danger: true, "data-key": `delete:${a.id}`, "aria-describedby": head.id }))
      : make("span", { className: "note", text: i18n.t("admin.readOnly") });
    const updated = [when(a.updated_at), a.updated_by].filter(Boolean).join(", ");
    return make("tr", { "data-team": a.team, "data-editable": String(mayEdit) },
      head,
      cell("admin.col.team", page.teamName(a.team)),
      cell("admin.col.lang", langName(a.language)),
      cell("admin.col.body", make("span", { className: "pre", text: a.body })),
      cell("admin.col.updated", updated),
      cell("admin.col.actions", actions));
  }));
  if (focused) byKey(focused)().focus();
}

function openDialogFor(a) {
  editing = a;
  clearError($("canned-error"), $("canned-form"));
  const teams = a ? [a.team] : [...editable];
  $("canned-form-team").replaceChildren(...teams.map((id) => make("option", { value: id, text: page.teamName(id) })));
  $("canned-form-team").disabled = Boolean(a); // an answer stays with its team
  const filterTeam = $("canned-team").value;
  $("canned-form-team").value = a ? a.team : editable.has(filterTeam) ? filterTeam : teams[0] ?? "";
  $("canned-form-lang").value = a ? a.language : $("canned-lang").value || "sv";
  $("canned-form-title").value = a?.title ?? "";
  $("canned-form-body").value = a?.body ?? "";
  i18n.text($("canned-dialog-heading"), a ? "admin.cannedEditHeading" : "admin.cannedAddHeading");
  openDialog($("canned"), a ? byKey(`edit:${a.id}`) : $("canned-add"));
}

async function save(event) {
  event.preventDefault();
  const err = $("canned-error");
  clearError(err, $("canned-form"));
  const title = $("canned-form-title").value.trim();
  const body = $("canned-form-body").value.trim();
  if (!title) return showError(err, i18n.t("admin.cannedTitleMissing"), $("canned-form-title"));
  if (!body) return showError(err, i18n.t("admin.cannedBodyMissing"), $("canned-form-body"));
  const language = $("canned-form-lang").value;
  $("canned-submit").disabled = true;
  const r = editing
    ? await api.request("PUT", `/api/v1/staff/canned/${encodeURIComponent(editing.id)}`, { title, body, language })
    : await api.post("/api/v1/staff/canned", { team: $("canned-form-team").value, language, title, body });
  $("canned-submit").disabled = false;
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError(err, r);
  const added = !editing;
  $("canned").close("done");
  say($("canned-status"), added ? "admin.cannedCreated" : "admin.cannedSaved", { title });
  await reload();
  page.changed();
}

async function remove(a) {
  const sure = await confirm("admin.confirmDeleteCanned", { title: a.title }, byKey(`delete:${a.id}`), "admin.delete");
  if (!sure) return;
  const r = await api.request("DELETE", `/api/v1/staff/canned/${encodeURIComponent(a.id)}`);
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError($("canned-load-error"), r);
  say($("canned-status"), "admin.cannedDeleted", { title: a.title });
  await reload();
  $("canned-heading").focus();
  page.changed();
}

export async function start(shared) {
  page = shared;
  describeBy($("canned-form"), $("canned-error"));
  $("canned-team").addEventListener("change", render);
  $("canned-lang").addEventListener("change", render);
  $("canned-add").addEventListener("click", () => openDialogFor(null));
  $("canned-form").addEventListener("submit", save);
  await reload();
}
