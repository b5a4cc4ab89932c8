// staff-conversation.js — the open conversation: what staff may know about it in the "Om samtalet"
// section (facts, triage reasons, self-test, returning visitor and earlier parts, the municipality's crisis
// numbers; folded away on a phone so the messages come first), its messages and the visitor's typing, the
// composer with its draft and the canned answers, and the internal notes.
// Sending, transfer, close and concern are the page's (callbacks); this module draws and collects.

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import * as dialogs from "./staff-dialogs.js";
import * as drafts from "./staff-drafts.js";
import * as L from "./staff-labels.js";
import * as scroll from "./staff-scroll.js";

const $ = (id) => document.getElementById(id);
const path = (id, rest) => `/api/v1/staff/conversations/${encodeURIComponent(id)}/${rest}`;
let conv = null; // the conversation on screen
let h = {};
let canned = []; // [{id, team, language, title, body}]
const crisisCache = new Map(); // municipality → resources
const wide = matchMedia("(min-width: 48rem)"); // staff.css's breakpoint: beside the queue, room for the facts

export const shown = () => conv;

// handlers: send(conv, text), typing(conv, on), failed(r), transfer(conv, button), close(conv, button),
// concern(conv, button), dismiss(conv)
export function init(handlers) {
  h = handlers;
  $("send-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value;
    if (!conv || !text.trim()) return;
    h.send(conv, text);
    $("text").value = "";
    drafts.set(conv.id, "");
    stopTyping();
    $("text").focus();
  });
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("send-form").requestSubmit();
    }
  });
  $("text").addEventListener("input", () => {
    if (!conv) return;
    drafts.set(conv.id, $("text").value);
    typed();
  });
  $("note-form").addEventListener("submit", addNote);
  $("canned-toggle").addEventListener("click", () => openCanned($("canned-panel").hidden));
  $("canned-panel").addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.preventDefault();
    openCanned(false);
    $("canned-toggle").focus();
  });
  wide.addEventListener("change", () => { $("about").open = wide.matches; });
  $("crisis-toggle").addEventListener("click", toggleCrisis);
  $("earlier-toggle").addEventListener("click", toggleEarlier);
  for (const [id, fn] of [["transfer", "transfer"], ["close", "close"], ["concern", "concern"]]) {
    $(id).addEventListener("click", () => conv && h[fn](conv, $(id)));
  }
  $("dismiss").addEventListener("click", () => conv && h.dismiss(conv));
}

// The conversation to show (null: none). focus: where focus goes ("composer", "heading" or nothing).
export function show(next, focus = null) {
  if (conv && conv !== next) {
    drafts.set(conv.id, $("text").value);
    stopTyping();
  }
  const changed = conv !== next;
  conv = next;
  $("conv").hidden = !conv;
  $("conv-none").hidden = Boolean(conv);
  if (!conv) return;
  $("conv").setAttribute("aria-labelledby", `tab-${conv.id}`);
  if (changed) {
    $("text").value = drafts.get(conv.id);
    $("about").open = wide.matches;
    openCanned(false);
    $("crisis-panel").hidden = true;
    $("crisis-toggle").setAttribute("aria-expanded", "false");
    $("earlier-box").hidden = true;
    $("earlier-toggle").setAttribute("aria-expanded", "false");
    $("log").replaceChildren(conv.list.el);
  }
  refresh();
  if (changed) {
    conv.shown = true; // from now on, messages arriving while another tab is open are "first unread" here
    scroll.opened(conv);
  }
  if (focus === "composer" && !$("send-form").hidden) $("text").focus();
  else if (focus) $("conv-heading").focus();
}

// Everything but the messages and the draft, again (a new summary, state, notes, screening or language).
export function refresh() {
  if (!conv) return;
  const c = conv.summary;
  const active = conv.state === "active";
  $("conv-heading").textContent = `${L.describe(c)} (#${conv.id.slice(0, 4)})`;
  i18n.text($("conv-state"), active ? "staff.convActive" : conv.state === "closed" ? "staff.convClosed" : "staff.convQueued");
  const here = active ? L.presence(c) : null; // whether the young person is there to read an answer
  if (here) $("conv-state").append(` · ${here}`);
  $("send-form").hidden = !active;
  scroll.fit(); // the composer came or went: the pane keeps the window's height
  for (const id of ["transfer", "close", "concern"]) $(id).hidden = !active;
  $("concern").hidden = !(active || conv.state === "closed");
  $("dismiss").hidden = active;
  drawFacts(c);
  const reasons = L.reasonTexts(c.reasons);
  $("reasons-box").hidden = reasons.length === 0;
  $("reasons").replaceChildren(...reasons.map((r) => L.make("li", { textContent: r })));
  const screening = L.screeningLines(c.screening);
  $("screening-box").hidden = screening.length === 0;
  $("screening").replaceChildren(...screening.map((s) => L.make("li", { textContent: s })));
  $("reopened").hidden = !(c.reopened > 0);
  $("about-returning").hidden = !(c.reopened > 0);
  drawNotes();
  drawTyping();
  drawCanned();
}

function drawFacts(c) {
  const rows = [
    ["staff.factTopic", c.topic && L.topicName(c.topic)],
    ["staff.factMunicipality", c.municipality && L.municipalityName(c.municipality)],
    ["staff.factRole", c.role && L.roleName(c.role)],
    ["staff.factAge", c.age_band && L.ageName(c.age_band)],
    ["staff.factTeam", c.team && L.teamName(c.team)],
    ["staff.factStarted", c.created_at && L.dateTime(c.created_at)],
    ["staff.factPriority", L.isUrgent(c) ? i18n.t("staff.urgent") : (c.priority ?? 0) > 0 ? i18n.t("staff.high") : null],
  ].filter(([, v]) => v);
  $("facts").replaceChildren(...rows.flatMap(([key, value]) => [
    i18n.text(L.make("dt"), key), L.make("dd", { textContent: value })]));
}

export function drawNotes() {
  if (!conv) return;
  const notes = conv.notes ?? [];
  $("notes").replaceChildren(...notes.map(dialogs.noteItem));
  $("note-form").hidden = conv.state !== "active";
}

async function addNote(event) {
  event.preventDefault();
  const text = $("note-text").value.trim();
  if (!conv || !text) return;
  const target = conv;
  const r = await api.post(path(target.id, "notes"), { text });
  if (!r.ok) return h.failed(r);
  $("note-text").value = "";
  const fresh = await api.get(path(target.id, "notes"));
  if (fresh.ok) {
    target.notes = fresh.data.notes;
    if (target === conv) drawNotes();
  }
  h.notice("staff.noteSaved");
}

// --- The visitor typing.

export function drawTyping() {
  $("typing").hidden = !conv?.typing;
  if (conv?.typing) i18n.text($("typing"), "staff.visitorTyping");
}

// --- Our own typing: "on" at the first key, "off" after a quiet 4 s or when the message goes.

let typingFor = null;
let quiet = null;
function typed() {
  if (conv.state !== "active") return;
  if (typingFor !== conv) {
    stopTyping();
    typingFor = conv;
    h.typing(conv, true);
  }
  clearTimeout(quiet);
  quiet = setTimeout(stopTyping, 4000);
}
function stopTyping() {
  clearTimeout(quiet);
  if (typingFor) h.typing(typingFor, false);
  typingFor = null;
}

// --- Canned answers of the person's teams, those in the young person's language first: choosing one puts
// its text in the composer (never sends it) and leaves the cursor there.

export async function loadCanned() {
  const r = await api.get("/api/v1/staff/canned");
  canned = r.ok && Array.isArray(r.data.canned) ? r.data.canned : [];
  drawCanned();
}

function drawCanned() {
  // The summary does not name the visitor's language yet: the console's own language stands in.
  const lang = conv?.summary.language ?? i18n.current();
  const list = [...canned].sort((a, b) => (b.language === lang) - (a.language === lang));
  $("canned-toggle").hidden = list.length === 0;
  if (!list.length) openCanned(false);
  $("canned").replaceChildren(...list.map((c) => {
    const li = L.make("li");
    const b = L.make("button", { type: "button", className: "button button--quiet canned__item" });
    const title = L.make("span", { className: "canned__title", textContent: c.title });
    if (c.language !== lang) title.append(" ", L.make("span", { textContent: `(${c.language})` }));
    b.append(title, L.make("span", { className: "canned__body", lang: c.language, textContent: c.body }));
    b.addEventListener("click", () => insertCanned(c));
    li.append(b);
    return li;
  }));
}

function openCanned(opening) {
  $("canned-panel").hidden = !opening;
  $("canned-toggle").setAttribute("aria-expanded", String(opening));
}

function insertCanned(c) {
  const text = $("text");
  text.value = text.value.trim() ? `${text.value.replace(/\s+$/, "")}\n\n${c.body}` : c.body;
  if (conv) {
    drafts.set(conv.id, text.value);
    typed();
  }
  openCanned(false);
  text.focus();
  text.setSelectionRange(text.value.length, text.value.length);
}

// --- Crisis numbers for the conversation's municipality, one click away.

async function toggleCrisis() {
  const panel = $("crisis-panel");
  const opening = panel.hidden;
  panel.hidden = !opening;
  $("crisis-toggle").setAttribute("aria-expanded", String(opening));
  if (!opening || !conv) return;
  const code = conv.summary.municipality ?? "";
  let list = crisisCache.get(code);
  if (!list) {
    i18n.text($("crisis-note"), "staff.loading");
    const r = await api.get(`/api/v1/staff/crisis${code ? `?municipality=${encodeURIComponent(code)}` : ""}`);
    if (r.status === 401) return h.failed(r);
    if (!r.ok) {
      // Said on screen, with a way to try again (close and open): 112 is always the emergency number.
      $("crisis-list").replaceChildren();
      return i18n.text($("crisis-note"), "staff.crisisFailed");
    }
    list = r.data.crisis ?? [];
    crisisCache.set(code, list);
  }
  $("crisis-note").textContent = "";
  $("crisis-list").replaceChildren(...list.map((c) => {
    const li = L.make("li");
    const a = L.make("a", { className: "crisis__number", href: `tel:${String(c.number).replace(/[^\d+]/g, "")}`, textContent: c.number });
    li.append(a, " ", L.make("strong", { textContent: c.name }), " – ", i18n.label(L.make("span"), c.text ?? ""));
    if (c.ages) li.append(" ", L.make("span", { textContent: `(${c.ages})` }));
    if (c.open_now === false) li.append(" ", i18n.text(L.make("em"), "staff.crisisClosedNow"));
    return li;
  }));
}

// --- A returning visitor: the earlier parts, each opened in a dialog (and audited).

async function toggleEarlier() {
  const box = $("earlier-box");
  const opening = box.hidden;
  box.hidden = !opening;
  $("earlier-toggle").setAttribute("aria-expanded", String(opening));
  if (!opening || !conv) return;
  const target = conv;
  i18n.text($("earlier-note"), "staff.loading");
  $("earlier").replaceChildren();
  const r = await api.get(path(target.id, "earlier"));
  if (!r.ok) {
    if (r.status === 401) return h.failed(r);
    return i18n.text($("earlier-note"), r.status === 404 ? "staff.earlierUnavailable" : i18n.errorKey(r.code));
  }
  const parts = r.data.parts ?? [];
  await dialogs.loadOutcomes(); // the outcomes' labels
  if (parts.length) $("earlier-note").textContent = "";
  else i18n.text($("earlier-note"), "staff.earlierNone");
  $("earlier").replaceChildren(...parts.map((p) => {
    const li = L.make("li", { className: "row" });
    const when = [p.started_at && L.dateTime(p.started_at), p.closed_at && L.dateTime(p.closed_at)].filter(Boolean).join(" – ");
    // "Del 1 · 2026-11-17 13:00 – 13:20 · Mottagningen · Anna · Råd och stöd gavs"
    const text = L.make("p", { className: "row__text", id: `earlier-${p.part}`,
      textContent: [i18n.t("staff.earlierPart", { n: p.part }), when, p.team && L.teamName(p.team), p.staff,
        p.outcome && dialogs.outcomeLabel(p.outcome)].filter(Boolean).join(" · ") });
    const b = L.make("button", { type: "button", className: "button button--quiet", textContent: i18n.t("staff.earlierOpen") });
    b.setAttribute("aria-describedby", text.id);
    b.addEventListener("click", () => dialogs.earlier(target, p.part, b));
    li.append(text, b);
    return li;
  }));
}
