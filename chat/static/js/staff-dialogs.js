// staff-dialogs.js — the console's modal dialogs (native <dialog>, labelled by their heading, focus back
// on the button that opened them): transfer (to a team, an ambulant team or a named colleague online),
// close with an outcome (the outcomes and their labels from /outcomes, kept here for the earlier parts'
// list too), report a concern, and an earlier part of a returning person's conversation (audited).
// Each talks to its one endpoint and reports back.

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import * as L from "./staff-labels.js";

const $ = (id) => document.getElementById(id);
const path = (id, rest) => `/api/v1/staff/conversations/${encodeURIComponent(id)}/${rest}`;
let outcomes = null; // [{id, sv, en}] from /outcomes, once loaded
let failed = () => {};

export function init(onFailed) {
  failed = onFailed;
  for (const dialog of document.querySelectorAll("dialog")) {
    for (const b of dialog.querySelectorAll("[data-close]")) b.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      const back = dialog.opener;
      dialog.opener = null;
      if (back?.isConnected && !back.closest("[hidden]")) back.focus();
    });
  }
}

export function open(dialog, opener) {
  dialog.opener = opener ?? document.activeElement;
  for (const el of dialog.querySelectorAll(".error")) el.textContent = "";
  if (!dialog.open) dialog.showModal();
}

function error(el, r) {
  if (r.status === 401) return failed(r);
  i18n.text(el, i18n.errorKey(r.code));
}

// --- Transfer: a team, an ambulant team or a colleague online, with a note.

// "Anna – Tillgänglig, 1 av 4 samtal": a colleague as the transfer list shows them.
function colleague(o) {
  const load = o.capacity ? i18n.t("staff.load", { open: o.open_chats, capacity: o.capacity })
    : i18n.t("staff.loadOpen", { open: o.open_chats });
  const option = L.make("option", { value: `staff:${o.username}`,
    textContent: `${o.display_name} – ${i18n.t(`staff.status.${o.status}`)}, ${load}` });
  option.dataset.name = o.display_name;
  return option;
}

export async function transfer(conv, opener, done, myUsername) {
  const dialog = $("transfer-dialog");
  const select = $("transfer-target");
  select.replaceChildren();
  $("transfer-note").value = "";
  i18n.text($("transfer-loading"), "staff.loading");
  open(dialog, opener);
  const [teams, people] = await Promise.all([api.get("/api/v1/staff/teams"), api.get("/api/v1/staff/presence")]);
  if (!teams.ok) return error($("transfer-error"), teams);
  $("transfer-loading").textContent = "";
  L.setTeams(teams.data.teams);
  const state = (t) => i18n.t(t.open_now ? "staff.teamOpen" : "staff.teamClosed", { online: t.online, available: t.available });
  const group = (key, options) => {
    const g = L.make("optgroup", { label: i18n.t(key) });
    g.append(...options);
    return options.length ? [g] : [];
  };
  const teamOption = (t) => {
    const o = L.make("option", { value: `team:${t.id}`, textContent: `${t.name} – ${state(t)}` });
    o.dataset.kind = t.kind;
    o.dataset.name = t.name;
    return o;
  };
  const list = teams.data.teams.filter((t) => t.id !== conv.summary.team || t.kind === "ambulant");
  // Everyone online but oneself; the available first, then the least busy.
  const rank = { available: 0, busy: 1, away: 2 };
  const online = (people.ok ? people.data.online : []).filter((o) => o.username && o.username !== myUsername)
    .sort((a, b) => (rank[a.status] ?? 3) - (rank[b.status] ?? 3) || a.open_chats - b.open_chats);
  select.append(
    L.make("option", { value: "", textContent: i18n.t("staff.transferPick") }),
    ...group("staff.transferTeams", list.filter((t) => t.kind !== "ambulant").map(teamOption)),
    ...group("staff.transferAmbulant", list.filter((t) => t.kind === "ambulant").map(teamOption)),
    ...group("staff.transferPeople", online.map(colleague)),
  );
  select.focus();
  const form = $("transfer-form");
  form.onsubmit = async (event) => {
    event.preventDefault();
    const at = select.value.indexOf(":");
    const [kind, target] = [select.value.slice(0, at), select.value.slice(at + 1)];
    const note = $("transfer-note").value.trim();
    if (!target) return i18n.text($("transfer-error"), "staff.transferPickFirst");
    if (select.selectedOptions[0]?.dataset.kind === "ambulant" && !note) {
      $("transfer-note").focus();
      return i18n.text($("transfer-error"), "staff.transferNoteNeeded");
    }
    const r = await api.post(path(conv.id, "transfer"), { [kind]: target, note });
    if (!r.ok) return error($("transfer-error"), r);
    dialog.close();
    done(select.selectedOptions[0]?.dataset.name ?? target);
  };
}

// --- Close with an outcome.

// The outcomes in the server's order with their labels; null when they could not be fetched.
export async function loadOutcomes() {
  if (outcomes) return outcomes;
  const r = await api.get("/api/v1/staff/outcomes");
  if (r.ok && Array.isArray(r.data.outcomes)) outcomes = r.data.outcomes;
  else if (r.status === 401) failed(r);
  return outcomes;
}

// An outcome's label in the page's language (its id if the list is not there).
export function outcomeLabel(id) {
  const o = outcomes?.find((x) => x.id === id);
  return o ? (o[i18n.current()] ?? o.sv ?? id) : id;
}

export async function close(conv, opener, done) {
  const dialog = $("close-dialog");
  const box = $("outcomes");
  box.replaceChildren(box.querySelector("legend"));
  open(dialog, opener);
  const list = await loadOutcomes();
  if (!list) return i18n.text($("close-error"), "staff.outcomesFailed");
  box.append(...list.map((o, i) => {
    const wrap = L.make("div", { className: "choice" });
    const input = L.make("input", { type: "radio", name: "outcome", value: o.id, id: `outcome-${o.id}`, required: true });
    const label = i18n.label(L.make("label", { htmlFor: input.id }), { sv: o.sv ?? o.id, en: o.en ?? o.sv ?? o.id });
    wrap.append(input, label);
    if (i === 0) queueMicrotask(() => input.focus());
    return wrap;
  }));
  $("close-form").onsubmit = async (event) => {
    event.preventDefault();
    const outcome = new FormData($("close-form")).get("outcome");
    if (!outcome) return i18n.text($("close-error"), "staff.outcomePick");
    const r = await api.post(path(conv.id, "close"), { outcome });
    if (!r.ok && r.code !== "conversation_closed") return error($("close-error"), r);
    dialog.close();
    done();
  };
}

// --- Report a concern (socialtjänstlagen 14 kap. 1 §): earlier reports, and a new one.

export async function concern(conv, opener, done) {
  const dialog = $("concern-dialog");
  $("concern-note").value = "";
  $("concern-list").replaceChildren();
  open(dialog, opener);
  $("concern-note").focus();
  const draw = (list) => {
    $("concern-none").hidden = list.length > 0;
    $("concern-list").replaceChildren(...list.map((c) => {
      const li = L.make("li", { className: "note-item" });
      li.append(L.make("p", { className: "note-item__head", textContent: `${c.reported_by ?? ""} · ${L.dateTime(c.ts)}` }),
        c.note == null ? i18n.text(L.make("p"), "msg.unreadable") : L.make("p", { textContent: c.note }));
      return li;
    }));
  };
  const r = await api.get(path(conv.id, "concerns"));
  if (r.ok) draw(r.data.concerns ?? []);
  else if (r.status === 401) return failed(r);
  $("concern-form").onsubmit = async (event) => {
    event.preventDefault();
    const note = $("concern-note").value.trim();
    if (!note) return i18n.text($("concern-error"), "staff.concernNoteNeeded");
    const made = await api.post(path(conv.id, "concerns"), { note });
    if (!made.ok) return error($("concern-error"), made);
    dialog.close();
    done(made.data);
  };
}

// --- An earlier part of a conversation a return code re-opened: reading it is audited.

export async function earlier(conv, part, opener) {
  const dialog = $("earlier-dialog");
  $("earlier-messages").replaceChildren();
  $("earlier-notes").replaceChildren();
  i18n.text($("earlier-logged"), "staff.loading");
  open(dialog, opener);
  const r = await api.get(path(conv.id, `earlier/${encodeURIComponent(part)}`));
  if (!r.ok) return error($("earlier-logged"), r);
  i18n.text($("earlier-logged"), "staff.earlierLogged");
  $("earlier-messages").append(...(r.data.messages ?? []).map((m) => {
    const li = L.make("li", { className: `msg msg--${m.from === "staff" ? "mine" : m.from}` });
    const who = m.author ?? i18n.t(`msg.${m.from}`);
    li.append(L.make("p", { className: "msg__head", textContent: m.ts ? `${who} · ${L.dateTime(m.ts)}` : who }),
      m.text == null ? i18n.text(L.make("p", { className: "msg__text" }), "msg.unreadable")
        : L.make("p", { className: "msg__text", textContent: m.text }));
    return li;
  }));
  $("earlier-notes").append(...(r.data.notes ?? []).map((n) => noteItem(n)));
  $("earlier-heading").focus();
}

// One internal note, visibly and audibly not a message.
export function noteItem(n) {
  const li = L.make("li", { className: "note-item" });
  const head = L.make("p", { className: "note-item__head" });
  head.append(L.make("strong", { textContent: i18n.t(n.kind === "transfer" ? "staff.noteTransferLabel" : "staff.noteLabelItem") }));
  const by = [n.author, n.ts ? L.dateTime(n.ts) : null].filter(Boolean).join(" · ");
  if (by) head.append(" ", L.make("span", { textContent: `– ${by}` }));
  const body = n.text == null ? i18n.text(L.make("p"), "msg.unreadable") : L.make("p", { textContent: n.text });
  li.append(head, body);
  return li;
}
