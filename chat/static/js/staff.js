// staff.js — the staff console's wiring: the session, the one /ws/staff socket and what its frames
// change, and the actions (claim, answer an offer, send, transfer, close). The conversations held are
// staff-held.js's; drawing belongs to staff-queue.js, staff-tabs.js and staff-conversation.js; dialogs
// to staff-dialogs.js.

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import { ChatSocket, newMessageId } from "./socket.js";
import * as alerts from "./staff-alerts.js";
import * as view from "./staff-conversation.js";
import * as dialogs from "./staff-dialogs.js";
import * as drafts from "./staff-drafts.js";
import * as H from "./staff-held.js";
import * as L from "./staff-labels.js";
import * as Q from "./staff-queue.js";
import * as scroll from "./staff-scroll.js";
import * as session from "./staff-session.js";
import * as tabs from "./staff-tabs.js";

const $ = (id) => document.getElementById(id);
// Where /staff?next=… may lead after logging in: these two pages only, never anywhere else.
const NEXT = new Set(["/staff/supervisor", "/staff/admin"]);
let socket = null;
let me = null;

const notice = (key, vars) => i18n.text($("notice"), key, vars);
const shout = (text) => {
  // Assertive, for urgent arrivals only; emptied first so the same sentence is read again.
  $("urgent-live").textContent = "";
  setTimeout(() => { $("urgent-live").textContent = text; }, 50);
};
const path = (id, verb) => `/api/v1/staff/conversations/${encodeURIComponent(id)}/${verb}`;

// --- Actions.

async function claim(id, button) {
  button.disabled = true;
  const r = await api.post(path(id, "claim"));
  if (!r.ok) {
    if (r.status === 401) return failed(r);
    // Someone was a moment quicker (or it is offered to someone, or closed): the row goes, with why.
    const gone = { already_claimed: "staff.claimLost", not_found: "staff.claimLost", conversation_closed: "staff.claimClosed",
      offered_elsewhere: "staff.claimOffered" }[r.code];
    if (gone) {
      Q.drop(id);
      $("queue-heading").focus();
      return notice(gone);
    }
    button.disabled = false;
    return failed(r);
  }
  H.adopt(r.data);
  notice("staff.claimed");
  H.setView("conv");
  H.select(id, { focus: "composer" });
}

async function answerOffer(id, verb, button) {
  button.disabled = true;
  const r = await api.post(path(id, verb));
  if (r.status === 401) {
    button.disabled = false;
    return failed(r);
  }
  Q.withdraw(id);
  if (!r.ok) {
    $("queue-heading").focus();
    return notice(r.code === "offer_ended" ? "staff.offerEnded" : i18n.errorKey(r.code));
  }
  if (verb === "accept") {
    H.adopt(r.data);
    H.setView("conv");
    H.select(id, { focus: "composer" });
  } else {
    $("queue-heading").focus();
    notice("staff.declined");
  }
}

function send(conv, text) {
  const id = newMessageId();
  conv.list.sending(id, text);
  socket.send({ type: "msg", conversation_id: conv.id, client_msg_id: id, text });
}

// Any failed request: a lost session opens the login dialog over the console; the rest is a notice.
function failed(r) {
  if (r.status === 401) return authLost(r.code);
  notice(i18n.errorKey(r.code));
}

// The session is gone under the console: why, in the person's words (the error frame's reason, not its text).
const LOST = { session_expired: "error.session_expired", logged_out: "staff.loggedOutElsewhere", ended_by_admin: "staff.endedByAdmin" };
function authLost(why) {
  socket?.stop();
  $("console").dataset.conn = "ended";
  session.expired(LOST[why] ?? "error.unauthorized");
}

// --- Frames.

function onFrame(f) {
  switch (f.type) {
    case "welcome": return onWelcome(f);
    case "queue_update": {
      for (const c of Q.update(f.queue, f.now)) {
        const text = i18n.t("staff.urgentArrived", { what: L.describe(c) });
        shout(text);
        alerts.urgent(text);
      }
      return H.counts();
    }
    case "msg": {
      const conv = H.get(f.conversation_id) ?? H.adopt({ conversation_id: f.conversation_id, state: "active" });
      if (conv.list.add(f)) {
        if (conv.id === H.selectedId()) scroll.arrived(conv, f);
        else {
          conv.unread += 1;
          if (conv.shown) conv.firstUnread ??= f.seq; // seen here before: it opens at what is new
          scroll.arrivedElsewhere(conv, f);
          H.drawHeld();
        }
      }
      if (f.from === "visitor" && conv.typing) {
        conv.typing = false;
        if (conv.id === H.selectedId()) view.drawTyping();
      }
      return H.markRead();
    }
    case "ack": H.get(f.conversation_id)?.list.acked(f.client_msg_id, f.seq, f.ts); return undefined;
    case "typing": return onTyping(f);
    case "read": if (f.from === "visitor") H.get(f.conversation_id)?.list.readUpTo(f.seq); return undefined;
    case "state": return onState(f);
    case "offer": {
      Q.offer(f);
      shout(i18n.t("staff.offerArrived", { what: L.describe(f.conversation) }));
      if (L.isUrgent(f.conversation)) alerts.urgent(i18n.t("staff.offerArrived", { what: L.describe(f.conversation) }));
      return H.counts();
    }
    case "offer_withdrawn": Q.withdraw(f.conversation_id); return H.counts();
    case "visitor_presence": {
      const conv = H.get(f.conversation_id);
      if (!conv) return undefined;
      Object.assign(conv.summary, { visitor_connected: f.connected, visitor_away_since: f.away_since });
      return conv.id === H.selectedId() ? view.refresh() : undefined;
    }
    case "alert": return onAlert(f);
    case "released": {
      const had = H.has(f.conversation_id);
      H.forget(f.conversation_id);
      if (had) notice(f.reason === "reopened" ? "staff.releasedReopened" : "staff.released");
      return undefined;
    }
    case "notes": {
      const conv = H.get(f.conversation_id);
      if (!conv) return undefined;
      conv.notes = f.notes;
      if (conv.id === H.selectedId()) view.drawNotes();
      return undefined;
    }
    case "screening": {
      const conv = H.get(f.conversation_id);
      if (!conv) return undefined;
      const { type, conversation_id: _, instrument, ...shown } = f;
      conv.summary.screening = { ...(conv.summary.screening ?? {}), [instrument]: shown };
      if (conv.id === H.selectedId()) view.refresh();
      return notice("staff.screeningArrived", { instrument: instrument.toUpperCase() });
    }
    case "presence": {
      $("status").value = f.status;
      return notice("staff.statusNow", { status: i18n.t(`staff.status.${f.status}`) });
    }
    case "error": return onError(f);
    default: return undefined;
  }
}

function onWelcome(f) {
  me = { ...me, ...f.staff };
  $("who").textContent = f.staff.display_name;
  if (f.staff.status) $("status").value = f.staff.status;
  const held = new Set(f.conversations.map((c) => c.conversation_id));
  for (const conv of H.all()) if (!held.has(conv.id) && conv.state === "active") conv.state = "closed"; // ended while away
  f.conversations.forEach(H.adopt);
  const saved = H.savedId();
  if (!H.selectedId() && H.size()) H.select(H.has(saved) ? saved : H.all()[0].id, { keepFocus: true });
  else if (H.selectedId()) view.refresh();
  if (H.size() && !Q.size()) H.setView("conv");
}

function onState(f) {
  let conv = H.get(f.conversation_id);
  if (!conv) {
    if (f.state !== "active") return;
    // Taken in another tab, handed over or reassigned to this person: the frame carries the summary.
    conv = H.adopt({ ...(f.summary ?? Q.find(f.conversation_id) ?? {}), conversation_id: f.conversation_id, state: "active" });
  }
  const was = conv.state;
  conv.state = f.state;
  conv.summary.state = f.state;
  H.drawHeld();
  if (conv.id === H.selectedId()) view.refresh();
  if (f.state === "closed" && was !== "closed") notice("staff.convEnded", { what: `#${conv.id.slice(0, 4)}` });
}

const typingTimers = new Map();
function onTyping(f) {
  const conv = H.get(f.conversation_id);
  if (!conv || f.from !== "visitor") return;
  conv.typing = f.on;
  clearTimeout(typingTimers.get(conv.id));
  // The server never says "stopped" for someone who just went away.
  if (f.on) typingTimers.set(conv.id, setTimeout(() => onTyping({ ...f, on: false }), 8000));
  if (conv.id === H.selectedId()) view.drawTyping();
}

function onAlert(f) {
  const conv = H.get(f.conversation_id);
  const c = conv?.summary ?? Q.find(f.conversation_id);
  if (conv) {
    conv.summary.priority = Math.max(conv.summary.priority ?? 0, f.priority ?? 0);
    conv.summary.risk = [...new Set([...(conv.summary.risk ?? []), ...(f.categories ?? [])])];
    H.drawHeld();
    if (conv.id === H.selectedId()) view.refresh();
    scroll.risk(conv, f.seq, conv.id === H.selectedId()); // the message itself, marked and brought into view
  }
  const text = i18n.t("staff.alert", { what: c ? `${L.describe(c)} (#${f.conversation_id.slice(0, 4)})` : `#${f.conversation_id.slice(0, 4)}` });
  shout(text);
  alerts.urgent(text);
}

function onError(f) {
  if (f.code === "unauthorized" || f.code === "session_expired") return authLost(f.reason ?? f.code);
  if (!socket.ready && (f.code === "forbidden" || f.code === "bad_last_seq")) {
    // Our last_seq named something no longer ours: start over from what the server says (drafts stay).
    H.clear();
    return socket.restart();
  }
  // A read receipt or typing sign that crossed the close: the conversation already says "Avslutat", and the
  // counsellor did nothing to be told about. A message refused for it is still said (and marked failed).
  if (f.code === "conversation_closed" && !f.client_msg_id) return;
  if (f.client_msg_id) for (const conv of H.all()) conv.list.failed(f.client_msg_id, f.code);
  notice(i18n.errorKey(f.code));
}

// --- Session.

function header(person) {
  $("who").textContent = person.display_name;
  const roles = person.roles ?? [];
  $("link-supervisor").hidden = !roles.includes("supervisor");
  $("link-admin").hidden = !(roles.includes("admin") || roles.includes("lead"));
  $("links").hidden = $("link-supervisor").hidden && $("link-admin").hidden;
  $("no-team").hidden = !person.no_team; // in no team: why the queue stays empty
  for (const id of ["logout", "status-box", "alerts-box"]) $(id).hidden = false;
}

function reset() {
  socket?.stop();
  socket = null;
  Q.reset();
  H.clear();
  $("notice").textContent = "";
}

function enter(person, again = false) {
  // No console for someone the access table gives none (an auditor): their page is the administration one.
  if (person.can && !person.can.includes("console")) return location.assign("/staff/admin");
  if (!again) {
    if (me && me.username !== person.username) drafts.clearAll(); // someone else on this tab
    reset();
  }
  me = person;
  header(person);
  $("console").hidden = false;
  if (again && socket) {
    notice("staff.welcomeBack");
    socket.start(); // the same conversations resume from their last seq; unsent messages go again
  } else startSocket();
  loadTeams();
  view.loadCanned();
}

// Logged in with the form on /staff?next=/staff/admin (or /staff/supervisor): on to that page.
function leaveForNext() {
  const next = new URLSearchParams(location.search).get("next");
  if (!NEXT.has(next)) return false;
  location.assign(next);
  return true;
}

function startSocket() {
  socket = new ChatSocket("/ws/staff", {
    hello: () => ({ type: "hello", last_seq: H.lastSeq() }),
    onFrame,
    onStatus: (status) => {
      $("console").dataset.conn = status; // "open" once the server said welcome
      if (status === "ended") {
        if (!session.isExpired()) authLost("unauthorized");
        return;
      }
      i18n.text($("conn"), `conn.${status}`);
    },
  });
  socket.start();
}

async function logout() {
  socket?.stop();
  await session.logout();
  drafts.clearAll();
  reset();
  H.clear({ forgetSelected: true });
  me = null;
  $("console").hidden = true;
  for (const id of ["logout", "status-box", "alerts-box", "links"]) $(id).hidden = true;
  $("who").textContent = "";
  session.showLogin("staff.loggedOut");
}

async function loadTeams() {
  const r = await api.get("/api/v1/staff/teams");
  if (!r.ok) return;
  L.setTeams(r.data.teams);
  Q.redraw();
  view.refresh();
}

async function loadLabels() {
  const r = await api.get("/api/v1/intake");
  if (!r.ok) return; // rows show codes instead of names
  L.setLabels(r.data);
  redraw();
}

function redraw() {
  Q.redraw();
  H.drawHeld();
  view.refresh();
}

async function main() {
  await i18n.init().catch(() => {});
  i18n.bindSwitch($("lang"));
  i18n.onChange(redraw);
  alerts.bindToggle($("alerts"));
  session.init((person, again) => (again || !leaveForNext()) && enter(person, again));
  dialogs.init(failed);
  H.init((frame) => socket?.send(frame));
  Q.init({ claim, answer: answerOffer, changed: H.counts });
  tabs.init((id, opts) => H.select(id, opts));
  scroll.init();
  view.init({
    send,
    failed,
    notice,
    typing: (conv, on) => socket?.send({ type: "typing", conversation_id: conv.id, on }),
    transfer: (conv, button) => dialogs.transfer(conv, button, (to) => {
      H.forget(conv.id); // gone now, whether or not the server's "released" came first
      notice("staff.transferred", { to });
    }, me?.username),
    close: (conv, button) => dialogs.close(conv, button, () => {
      conv.state = "closed";
      H.drawHeld();
      view.refresh();
      notice("staff.closedDone");
      $("conv-heading").focus();
    }),
    concern: (conv, button) => dialogs.concern(conv, button, () => notice("staff.concernDone")),
    dismiss: (conv) => H.forget(conv.id),
  });
  $("logout").addEventListener("click", logout);
  $("status").addEventListener("change", () => socket?.send({ type: "presence", status: $("status").value }));
  $("view-queue").addEventListener("click", () => H.setView("queue"));
  $("view-conv").addEventListener("click", () => H.setView("conv"));
  document.addEventListener("visibilitychange", () => H.markRead());
  loadLabels();
  const r = await api.get("/api/v1/staff/me");
  if (r.ok) {
    session.enter(r.data);
    enter(r.data);
  } else session.showLogin(r.code === "network" ? "error.network" : r.code === "session_expired" ? "error.session_expired" : null);
}

main();
