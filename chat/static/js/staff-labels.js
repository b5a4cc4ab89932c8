// staff-labels.js — names for the codes in conversation summaries: topics, municipalities, roles, age
// bands (from /api/v1/intake) and teams (from /api/v1/staff/teams), and the short descriptions built
// from them. Only what staff may know about a conversation; never its content.

import * as i18n from "./i18n.js";

let labels = { topics: {}, municipalities: {}, ages: {} };
let teams = {};

export function setLabels(intake) {
  const byId = (list, key = "id") => Object.fromEntries((list ?? []).map((x) => [x[key], x.label ?? x.name]));
  labels = {
    topics: byId(intake.topics),
    municipalities: byId(intake.municipalities, "code"),
    ages: byId(intake.age_bands),
  };
}

export function setTeams(list) {
  teams = Object.fromEntries(list.map((t) => [t.id, t]));
}

export const team = (id) => teams[id];
export const teamName = (id) => teams[id]?.name ?? id;
export const municipalityName = (code) => labels.municipalities[code] ?? code;
export const topicName = (id) => (labels.topics[id] ? i18n.pick(labels.topics[id]) : id);
export const ageName = (id) => (labels.ages[id] ? i18n.pick(labels.ages[id]) : id);
// Short words ("ung", "närstående"): the intake's labels are the visitor's own longer sentences.
const ROLE_KEYS = { relative: "staff.roleRelative", family: "staff.roleFamily" };
export const roleName = (id) => i18n.t(ROLE_KEYS[id] ?? "staff.roleYoung");

// Priority 2 (urgent) or a risk signal in what the person wrote.
export const isUrgent = (c) => (c.priority ?? 0) >= 2 || (c.risk?.length ?? 0) > 0;

export const shortId = (id) => id.slice(0, 8);

// "Alkohol · Falun · ung · 16–17 år": what the conversation is about, without content.
export function describe(c) {
  const parts = [];
  if (c.topic) parts.push(topicName(c.topic));
  if (c.municipality) parts.push(municipalityName(c.municipality));
  if (c.role) parts.push(roleName(c.role));
  if (c.age_band) parts.push(ageName(c.age_band));
  return parts.length ? parts.join(" · ") : i18n.t("staff.noDetails");
}

// "AUDIT 12 av 40, zon 3": one line per self-test.
export function screeningLines(screening) {
  return Object.entries(screening ?? {}).map(([instrument, s]) => {
    const zoneKey = `staff.zone.${s.zone}`;
    const zone = i18n.t(zoneKey) === zoneKey ? (s.zone ?? "–") : i18n.t(zoneKey);
    const line = i18n.t("staff.screeningLine", { instrument: instrument.toUpperCase(), score: s.score, max: s.max_score ?? "?", zone });
    return s.flagged ? `${line} – ${i18n.t("staff.screeningFlagged", { cutoff: s.cutoff })}` : line;
  });
}

export const reasonTexts = (reasons) => (reasons ?? []).map((r) => r?.[i18n.current()] ?? r?.sv ?? String(r));

// "45 s", "3 min", "1 h 5 min": how long since an instant (never negative).
export function waited(iso, now = Date.now()) {
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (s < 60) return i18n.t("staff.waitSeconds", { s });
  const m = Math.floor(s / 60);
  if (m < 60) return i18n.t("staff.waitMinutes", { m });
  return i18n.t("staff.waitHours", { h: Math.floor(m / 60), m: m % 60 });
}

// "Ansluten" / "Borta sedan 14:05": whether the young person has the page open now (null: not known).
export function presence(c) {
  if (c.visitor_connected === undefined) return null;
  return c.visitor_connected ? i18n.t("staff.visitorConnected")
    : i18n.t("staff.visitorAway", { time: c.visitor_away_since ? clock(c.visitor_away_since) : "–" });
}

export const clock = (iso) => new Date(iso).toLocaleTimeString("sv-SE", { hour: "2-digit", minute: "2-digit" });
export const dateTime = (iso) => new Date(iso).toLocaleString(i18n.current() === "en" ? "en-GB" : "sv-SE",
  { dateStyle: "short", timeStyle: "short" });

export const make = (tag, props = {}) => Object.assign(document.createElement(tag), props);
