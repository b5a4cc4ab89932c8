// supervisor.js — the supervisor overview: every team's queue (waiting, longest wait ticking, open or
// closed, online and available), who is online with status and load, and the whole queue, most urgent
// first. Polled every 5 s while the tab is visible; a queued (or held) conversation can be reassigned
// to a named person or to a team. The live region says what changed, not every tick.

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import * as alerts from "./staff-alerts.js";
import {
  $, bindDialog, button, cell, clearError, describeBy, duration, errorText, expired, make, openDialog, say, session,
} from "./admin-ui.js";

const PATH = "/staff/supervisor";
const POLL_MS = 5000;
let view = null; // {teams, staff, queue, active}
let labels = { topics: {}, municipalities: {}, ages: {} };
let timer = null;
let busy = false;
let counts = null; // what was last announced: {waiting, online}
let raised = null; // "team:code" of what needed attention at the last poll (null: not loaded yet)
let target = null; // the conversation in the reassign dialog

const since = (c) => Date.parse(c.queued_at ?? c.created_at);
const short = (id) => String(id).slice(0, 8);
const teamName = (id) => view?.teams.find((t) => t.id === id)?.name ?? id ?? "";

// The overview endpoint, or (until it exists) the same picture from teams, presence and queue.
async function load() {
  const r = await api.get("/api/v1/staff/overview");
  const now = Date.now();
  if (r.ok) {
    const d = r.data;
    return {
      ok: true,
      view: {
        teams: d.teams.map((t) => ({
          ...t, oldest: t.waiting > 0 && t.longest_wait_s != null ? now - t.longest_wait_s * 1000 : null,
        })),
        staff: d.staff ?? [], queue: d.queue ?? [], active: Array.isArray(d.active) ? d.active : null,
      },
    };
  }
  if (r.status !== 404 && r.status !== 405) return r;
  const [teams, presence, queue] = await Promise.all(
    ["teams", "presence", "queue"].map((p) => api.get(`/api/v1/staff/${p}`)));
  const failed = [teams, presence, queue].find((x) => !x.ok);
  if (failed) return failed;
  const waiting = queue.data.queue;
  return {
    ok: true,
    view: {
      teams: teams.data.teams.map((t) => {
        const mine = waiting.filter((c) => c.team === t.id);
        return { ...t, waiting: t.waiting ?? mine.length, oldest: mine.length ? Math.min(...mine.map(since)) : null };
      }),
      staff: presence.data.online, queue: waiting, active: null,
    },
  };
}

function ticking(from) {
  if (from == null || Number.isNaN(from)) return "–";
  return make("time", { "data-since": from, datetime: `PT${Math.max(0, Math.round((Date.now() - from) / 1000))}S`,
    text: duration(Date.now() - from) });
}

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll("time[data-since]")) {
    const from = Number(el.dataset.since);
    el.textContent = duration(now - from);
    el.setAttribute("datetime", `PT${Math.max(0, Math.round((now - from) / 1000))}S`);
  }
}

// "Samtal 1a2b3c4d · ung · 16–17 · Alkohol · Falun": what the queue may say, never content.
function describe(c) {
  const parts = [i18n.t("super.conv", { id: short(c.conversation_id) })];
  if (c.role) parts.push(i18n.t(`super.role.${c.role}`));
  if (c.age_band) parts.push(i18n.pick(labels.ages[c.age_band] ?? c.age_band));
  if (c.topic) parts.push(i18n.pick(labels.topics[c.topic] ?? c.topic));
  if (c.municipality) parts.push(i18n.pick(labels.municipalities[c.municipality] ?? c.municipality));
  return parts.join(" · ");
}

function why(c) {
  const parts = [];
  if (c.priority >= 2) parts.push(make("strong", { className: "tag tag--urgent", text: i18n.t("super.urgent") }));
  else parts.push(make("span", { className: "tag", text: c.priority > 0 ? i18n.t("super.priority", { level: c.priority })
    : i18n.t("super.normal") }));
  const more = (c.reasons ?? []).map((r) => (typeof r === "string" ? r : r[i18n.current()] ?? r.sv));
  if (c.after_hours) more.push(i18n.t("super.afterHours"));
  if (c.reopened) more.push(i18n.t("super.reopened"));
  for (const [name, s] of Object.entries(c.screening ?? {})) more.push(`${name.toUpperCase()} ${s.score}/${s.max_score}`);
  if (more.length) parts.push(make("span", { className: "reasons", text: more.join("; ") }));
  return parts;
}

// Redrawing a table keeps keyboard focus on the same row's button.
function keepFocus(draw) {
  const key = document.activeElement?.dataset?.key;
  draw();
  if (key) document.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

// Why a team needs attention, in the page's language: the server's words (triage/attention.py decides).
const whyText = (t) => (t.attention ?? []).map((r) => r[i18n.current()] ?? r.sv).join("; ");

function teamCell(t) {
  if (!t.attention?.length) return cell("super.col.team", t.name, true);
  return cell("super.col.team", [t.name, " ", make("strong", { className: "tag tag--attention", text: i18n.t("super.attentionTag") }),
    make("span", { className: "attention-why", text: whyText(t) })], true);
}

function renderTeams() {
  $("teams").replaceChildren(...view.teams.map((t) => make("tr", {
    className: [t.open_now ? "" : "row--closed", t.attention?.length ? "row--attention" : ""].join(" ").trim() },
    teamCell(t),
    cell("super.col.open", i18n.t(t.open_now ? "super.open" : "super.closed")),
    cell("super.col.waiting", String(t.waiting ?? 0)),
    cell("super.col.longest", ticking(t.oldest)),
    cell("super.col.online", String(t.online ?? 0)),
    cell("super.col.available", String(t.available ?? 0)))));
}

function loadText(s) {
  return s.capacity == null ? String(s.open_chats ?? 0)
    : i18n.t("super.load", { open: s.open_chats ?? 0, capacity: s.capacity });
}

function renderStaff() {
  $("staff-empty").hidden = view.staff.length > 0;
  $("staff-table").hidden = view.staff.length === 0;
  $("staff").replaceChildren(...view.staff.map((s) => {
    const full = s.capacity != null && (s.open_chats ?? 0) >= s.capacity;
    return make("tr", {},
      cell("super.col.name", s.display_name ?? s.username, true),
      cell("super.col.teams", (s.teams ?? []).map(teamName).join(", ")),
      cell("super.col.status", make("span", { className: `presence presence--${s.status}`,
        text: i18n.t(`super.status.${s.status}`) })),
      cell("super.col.load", make("span", { className: full ? "load load--full" : "load", text: loadText(s) })));
  }));
}

function reassignButton(c, rowHeader) {
  return button("super.reassign", () => openReassign(c), {
    "data-key": c.conversation_id, "aria-describedby": rowHeader,
  });
}

function renderQueue() {
  $("queue-empty").hidden = view.queue.length > 0;
  $("queue-table").hidden = view.queue.length === 0;
  keepFocus(() => $("queue").replaceChildren(...view.queue.map((c) => {
    const id = `q-${c.conversation_id}`;
    const head = cell("super.col.conversation", describe(c), true);
    head.id = id;
    return make("tr", { className: c.priority >= 2 ? "row--urgent" : "" },
      head,
      cell("super.col.team", teamName(c.team)),
      cell("super.col.reasons", why(c)),
      cell("super.col.waited", ticking(since(c))),
      cell("super.col.actions", reassignButton(c, id)));
  })));
}

function renderActive() {
  $("active-section").hidden = !view.active;
  if (!view.active) return;
  keepFocus(() => $("active").replaceChildren(...view.active.map((c) => {
    const id = `a-${c.conversation_id}`;
    const head = cell("super.col.conversation", describe(c), true);
    head.id = id;
    return make("tr", {},
      head,
      cell("super.col.team", teamName(c.team)),
      cell("super.col.holder", c.staff ?? c.holder ?? ""),
      cell("super.col.actions", reassignButton(c, id)));
  })));
}

// The banner: every team that needs attention now, and why; always on screen while it lasts.
function renderAttention() {
  const teams = view.teams.filter((t) => t.attention?.length);
  $("attention").hidden = teams.length === 0;
  $("attention-list").replaceChildren(...teams.map((t) => make("li", {
    text: i18n.t("super.attentionItem", { team: t.name, why: whyText(t) }) })));
}

// Said at once (and with a tone and notification behind the switch) when a team newly needs attention or
// for a new reason; not again on every poll while it lasts.
function alertAttention() {
  const now = new Set(view.teams.flatMap((t) => (t.attention ?? []).map((r) => `${t.id}:${r.code}`)));
  const fresh = view.teams.filter((t) => (t.attention ?? []).some((r) => !raised?.has(`${t.id}:${r.code}`)));
  raised = now;
  if (!fresh.length) return;
  const text = i18n.t("super.attentionSaid", {
    list: fresh.map((t) => i18n.t("super.attentionItem", { team: t.name, why: whyText(t) })).join(". ") });
  $("attention-live").textContent = "";
  setTimeout(() => { $("attention-live").textContent = text; }, 50);
  alerts.urgent(text);
}

function render() {
  if (!view) return;
  renderAttention();
  renderTeams();
  renderStaff();
  renderQueue();
  renderActive();
}

// Polite news when the number waiting or online changed: not on every poll, never on a tick.
function announce() {
  const now = { waiting: view.queue.length, online: view.staff.length };
  if (counts && (counts.waiting !== now.waiting || counts.online !== now.online)) say($("live"), "super.summary", now);
  counts = now;
}

async function refresh() {
  clearTimeout(timer);
  if (busy) return;
  busy = true;
  const r = await load();
  busy = false;
  if (r.ok) {
    view = r.view;
    render();
    announce();
    alertAttention();
    i18n.text($("updated"), "super.updated", {
      time: new Date().toLocaleTimeString(i18n.current() === "en" ? "en-GB" : "sv-SE") });
  } else if (r.status === 401) {
    return expired("super", PATH);
  } else {
    i18n.text($("updated"), r.status === 403 ? "super.needRole" : "super.stale");
  }
  schedule();
}

function schedule() {
  clearTimeout(timer);
  if (document.visibilityState === "visible") timer = setTimeout(refresh, POLL_MS);
}

// --- reassign ---

function option(value, text) {
  return make("option", { value, text });
}

function showTarget() {
  const toStaff = $("to-staff").checked;
  $("staff-field").hidden = !toStaff;
  $("team-field").hidden = toStaff;
}

function openReassign(c) {
  target = c;
  clearError($("reassign-error"), $("reassign-form"));
  $("reassign-what").textContent = `${describe(c)} · ${teamName(c.team)}`;
  const people = view.staff.filter((s) => s.username);
  $("reassign-staff").replaceChildren(...people.map((s) => option(s.username,
    `${s.display_name ?? s.username} (${i18n.t(`super.status.${s.status}`)}, ${loadText(s)})`)));
  if (!people.length) $("reassign-staff").append(make("option", { value: "", text: i18n.t("super.noStaff") }));
  $("reassign-team").replaceChildren(...view.teams.map((t) => option(t.id, t.name)));
  $("reassign-team").value = c.team ?? "";
  $("to-staff").checked = people.length > 0;
  $("to-team").checked = people.length === 0;
  $("reassign-note").value = "";
  showTarget();
  const key = c.conversation_id;
  openDialog($("reassign"), () => document.querySelector(`[data-key="${CSS.escape(key)}"]`) ?? $("queue-heading"));
}

async function submitReassign(event) {
  event.preventDefault();
  const form = $("reassign-form");
  clearError($("reassign-error"), form);
  const toStaff = $("to-staff").checked;
  const field = toStaff ? $("reassign-staff") : $("reassign-team");
  if (!field.value) {
    $("reassign-error").textContent = i18n.t(toStaff ? "super.pickStaffFirst" : "super.pickTeamFirst");
    field.setAttribute("aria-invalid", "true");
    return field.focus();
  }
  const body = toStaff ? { staff: field.value } : { team: field.value };
  const note = $("reassign-note").value.trim();
  if (note) body.note = note;
  $("reassign-submit").disabled = true;
  const r = await api.post(`/api/v1/staff/conversations/${encodeURIComponent(target.conversation_id)}/reassign`, body);
  $("reassign-submit").disabled = false;
  if (!r.ok) {
    if (r.status === 401) {
      $("reassign").close();
      return expired("super", PATH);
    }
    $("reassign-error").textContent = errorText(r);
    return field.focus();
  }
  const to = toStaff ? field.selectedOptions[0]?.textContent.replace(/ \(.*\)$/, "") : teamName(field.value);
  // Out of the queue at once, so focus goes back to the queue rather than to a row about to vanish.
  view.queue = view.queue.filter((c) => c.conversation_id !== target.conversation_id);
  renderQueue();
  if (counts) counts.waiting = view.queue.length; // this change is announced below, not again as a count
  $("reassign").close("done");
  say($("live"), "super.reassigned", { id: short(target.conversation_id), to });
  refresh();
}

async function loadLabels() {
  const r = await api.get("/api/v1/intake");
  if (!r.ok) return;
  labels = {
    topics: Object.fromEntries((r.data.topics ?? []).map((t) => [t.id, t.label])),
    municipalities: Object.fromEntries((r.data.municipalities ?? []).map((m) => [m.code, m.name])),
    ages: Object.fromEntries((r.data.age_bands ?? []).map((a) => [a.id, a.label])),
  };
  render();
}

async function main() {
  const me = await session("super", PATH, (roles) => roles.includes("supervisor"));
  if (!me) return;
  alerts.bindToggle($("alerts"));
  $("alerts-box").hidden = false;
  bindDialog($("reassign"));
  describeBy($("reassign-form"), $("reassign-error"));
  $("reassign-form").addEventListener("submit", submitReassign);
  for (const r of [$("to-staff"), $("to-team")]) r.addEventListener("change", showTarget);
  i18n.onChange(render);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
    else clearTimeout(timer);
  });
  setInterval(tick, 1000);
  loadLabels();
  await refresh();
}

main();
