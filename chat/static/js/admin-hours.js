// admin-hours.js — opening-hours overrides (admin only): the list, add one (a date, a team or every
// team, closed all day or open during spans like 09:00-12:00, a label such as "Julafton"), remove one.

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import { $, button, cell, clearError, confirm, describeBy, locale, make, say, showError } from "./admin-ui.js";

let page = null;
let overrides = [];
let saved = null; // the answer to the last add, while its conflict warning shows
const SPAN = /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$/;

// "09:00-12:00, 13:00–16:00" → ["09:00-12:00", "13:00-16:00"]; null when a part is not a span.
export function parseSpans(text) {
  const parts = text.split(/[,;\s]+/).map((p) => p.replace(/[–—]/g, "-")).filter(Boolean);
  if (!parts.length || !parts.every((p) => SPAN.test(p) && p.slice(0, 5) < p.slice(6))) return null;
  return parts;
}

function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

export function dateText(iso) {
  const d = new Date(`${iso}T12:00:00`);
  return Number.isNaN(d.getTime()) ? iso
    : d.toLocaleDateString(locale(), { weekday: "short", year: "numeric", month: "long", day: "numeric" });
}

const teamText = (id) => (id ? page.teamName(id) : i18n.t("admin.allTeams"));
const hoursText = (spans) => (spans?.length ? spans.join(", ") : i18n.t("admin.closedAllDay"));

export async function reload() {
  const r = await api.get("/api/v1/admin/hours");
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError($("hours-load-error"), r);
  $("hours-load-error").textContent = "";
  overrides = [...(r.data.overrides ?? [])].sort((a, b) => String(a.date).localeCompare(String(b.date)));
  render();
}

function renderTeams() {
  const select = $("hours-team");
  const chosen = select.value;
  select.replaceChildren(make("option", { value: "", text: i18n.t("admin.allTeams") }),
    ...page.teams.map((t) => make("option", { value: t.id, text: t.name })));
  select.value = chosen;
}

export function render() {
  if (!page) return;
  renderTeams();
  warn();
  $("hours-empty").hidden = overrides.length > 0;
  $("hours-table").hidden = overrides.length === 0;
  $("hours-rows").replaceChildren(...overrides.map((o) => {
    const head = cell("admin.col.date", dateText(o.date), true);
    head.id = `hours-row-${o.id}`;
    return make("tr", { "data-id": o.id },
      head,
      cell("admin.col.team", teamText(o.team)),
      cell("admin.col.hours", o.applies === false
        ? [hoursText(o.spans), make("span", { className: "not-applied", text: i18n.t("admin.notApplied") })]
        : hoursText(o.spans)),
      cell("admin.col.label", o.label ?? ""),
      cell("admin.col.actions", button("admin.remove", () => remove(o), {
        danger: true, "data-key": `remove:${o.id}`, "aria-describedby": head.id })));
  }));
}

// The other overrides of the same date that the saved one meets (the server says which of each pair
// applies: an all-teams closure beats a team's own hours, otherwise the team's own hours win).
function warn() {
  const box = $("hours-warning");
  const made = saved;
  const found = made?.conflicts ?? [];
  if (!found.length) return box.replaceChildren();
  const lines = found.map((c) => {
    const [every, own] = c.team == null ? [c, made] : [made, c];
    const key = every.spans?.length ? "admin.conflictOwnWins" : "admin.conflictOverruled";
    return make("p", { text: i18n.t(key, { team: teamText(own.team), hours: hoursText(own.spans), all: hoursText(every.spans) }) });
  });
  box.replaceChildren(make("p", { text: i18n.t("admin.conflictsHeading", { date: dateText(made.date) }) }),
    ...lines, make("p", { text: i18n.t("admin.conflictsFix") }));
}

function showKind() {
  $("hours-spans-field").hidden = !$("hours-open").checked;
}

async function add(event) {
  event.preventDefault();
  const err = $("hours-error");
  clearError(err, $("hours-form"));
  saved = null;
  warn();
  const date = $("hours-date").value;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return showError(err, i18n.t("admin.dateMissing"), $("hours-date"));
  let spans = [];
  if ($("hours-open").checked) {
    spans = parseSpans($("hours-spans").value);
    if (!spans) return showError(err, i18n.t("admin.spansInvalid"), $("hours-spans"));
  }
  const team = $("hours-team").value || null;
  const label = $("hours-label").value.trim();
  $("hours-submit").disabled = true;
  const r = await api.post("/api/v1/admin/hours", { date, team, spans, label });
  $("hours-submit").disabled = false;
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError(err, r);
  $("hours-form").reset();
  $("hours-date").value = today();
  showKind();
  say($("hours-status"), "admin.hoursAdded", { date: dateText(date), team: teamText(team) });
  saved = r.data;
  warn();
  await reload();
  page.changed();
}

async function remove(o) {
  const sure = await confirm("admin.confirmRemoveHours", { date: dateText(o.date), team: teamText(o.team) },
    () => document.querySelector(`#hours-rows [data-key="remove:${o.id}"]`) ?? $("hours-heading"), "admin.remove");
  if (!sure) return;
  const r = await api.request("DELETE", `/api/v1/admin/hours/${encodeURIComponent(o.id)}`);
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError($("hours-load-error"), r);
  saved = null;
  say($("hours-status"), "admin.hoursRemoved", { date: dateText(o.date), team: teamText(o.team) });
  await reload();
  $("hours-heading").focus();
  page.changed();
}

export async function start(shared) {
  page = shared;
  $("hours-date").value = today();
  describeBy($("hours-form"), $("hours-error"));
  for (const r of [$("hours-closed"), $("hours-open")]) r.addEventListener("change", showKind);
  $("hours-form").addEventListener("submit", add);
  renderTeams();
  await reload();
}
