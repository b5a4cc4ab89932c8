// admin-audit.js — the audit log (admin only): the latest 100 entries, who did what, when, to what (by name),
// and whether the hash chain of the whole log verifies.

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import { $, cell, make, showError, when } from "./admin-ui.js";
import { dateText } from "./admin-hours.js";

let page = null;
let entries = [];
let chain = null; // {ok, entries, head_seq, first_broken: {seq, problem} | null}: the server checked every link

const actionText = (code) => (i18n.t(`admin.action.${code}`) === `admin.action.${code}` ? code : i18n.t(`admin.action.${code}`));

// What a change was about, by the names the server resolved (`about`): a person's display name and
// username, a canned answer's title and team, an override's date and team; the bare target otherwise.
function aboutText(e) {
  const a = e.about;
  const target = typeof e.target === "string" ? e.target : JSON.stringify(e.target);
  if (!a) return target;
  if (a.date) return `${dateText(a.date)} – ${a.team ?? i18n.t("admin.allTeams")}`;
  if (String(e.action).startsWith("canned_")) {
    if (!a.name) return `#${target}`;
    const title = i18n.t("admin.quoted", { text: a.name });
    return a.team ? `${title} – ${a.team}` : title;
  }
  return a.name && a.name !== target ? `${a.name} (${target})` : target;
}

function targetText(e) {
  const parts = [];
  if (e.target != null && e.target !== "") parts.push(aboutText(e));
  if (e.conversation_id) parts.push(i18n.t("super.conv", { id: String(e.conversation_id).slice(0, 8) }));
  return parts.join(" · ");
}

export async function reload() {
  const r = await api.get("/api/v1/admin/audit?limit=100");
  if (r.status === 401) return page.expired();
  if (!r.ok) return showError($("audit-load-error"), r);
  $("audit-load-error").textContent = "";
  entries = r.data.entries ?? [];
  chain = r.data.chain ?? null;
  render();
}

function renderChain() {
  const p = $("audit-chain");
  p.hidden = !chain;
  if (!chain) return;
  p.dataset.ok = String(chain.ok);
  p.className = chain.ok ? "note" : "error";
  p.textContent = chain.ok
    ? i18n.t("admin.chainOk", { entries: chain.entries })
    : i18n.t("admin.chainBroken", { seq: chain.first_broken?.seq ?? "?" });
}

export function render() {
  if (!page) return;
  renderChain();
  $("audit-empty").hidden = entries.length > 0;
  $("audit-table").hidden = entries.length === 0;
  $("audit-rows").replaceChildren(...entries.map((e) => make("tr", { "data-action": e.action },
    cell("admin.col.when", make("time", { datetime: e.at, text: when(e.at) }), true),
    cell("admin.col.who", e.staff ?? ""),
    cell("admin.col.what", actionText(e.action)),
    cell("admin.col.target", targetText(e)))));
}

export async function start(shared) {
  page = shared;
  $("audit-refresh").addEventListener("click", reload);
  await reload();
}
