// staff.js — the staff console: log in, see the queue and claim, hold conversations, read, answer
// and close one at a time. The session is an HttpOnly cookie; the CSRF token lives in memory only.

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import { MessageList } from "./messages.js";
import { ChatSocket, newMessageId } from "./socket.js";
import { describe, drawHeld, drawNotes, drawOffers, drawQueue, setLabels } from "./staff-lists.js";

const $ = (id) => document.getElementById(id);
const convs = new Map(); // conversation_id → {id, summary, state, list, unread}
let socket = null;
let queue = [];
let selected = null;
const offers = new Map(); // conversation_id → offer frame

const notice = (key) => i18n.text($("notice"), key);

function renderQueue() {
  drawQueue($("queue"), $("queue-empty"), queue, claim);
}

function renderOffers() {
  drawOffers($("offers-panel"), $("offers"), [...offers.values()], answerOffer);
}

async function answerOffer(id, verb, button) {
  button.disabled = true;
  const r = await api.post(`/api/v1/staff/conversations/${encodeURIComponent(id)}/${verb}`);
  offers.delete(id);
  renderOffers();
  if (!r.ok) return failed(r);
  if (verb === "accept") {
    adopt(r.data);
    select(id);
  }
}

function renderHeld() {
  drawHeld($("held"), $("held-empty"), [...convs.values()], selected, select);
}

function renderConv() {
  const conv = convs.get(selected);
  const heading = $("conv-heading");
  const open = conv?.state === "active";
  $("send-form").hidden = !open;
  $("close").hidden = !open;
  if (!conv) {
    drawNotes($("notes-box"), $("notes"), []);
    i18n.text(heading, "staff.convNone");
    $("conv-state").textContent = "";
    $("log").replaceChildren();
    return;
  }
  delete heading.dataset.i18n;
  heading.textContent = describe(conv.summary);
  drawNotes($("notes-box"), $("notes"), conv.notes);
  i18n.text($("conv-state"), open ? "staff.convActive" : "staff.convClosed");
  if ($("log").firstChild !== conv.list.el) $("log").replaceChildren(conv.list.el);
}

// A conversation this person holds: from welcome, a claim, or a state frame (which has no summary).
function adopt(c) {
  let conv = convs.get(c.conversation_id);
  if (!conv) {
    conv = { id: c.conversation_id, summary: c, state: c.state, list: new MessageList("staff"), unread: 0 };
    convs.set(conv.id, conv);
  } else if (c.role) conv.summary = c;
  conv.state = c.state ?? conv.state;
  renderHeld();
  if (conv.id === selected) renderConv();
  return conv;
}

// Read receipts for the open conversation: what has been on screen while the console was visible.
function markRead(conv) {
  if (document.visibilityState !== "visible" || conv.state !== "active" || conv.list.lastSeq <= (conv.readSent ?? 0)) return;
  conv.readSent = conv.list.lastSeq;
  socket?.send({ type: "read", conversation_id: conv.id, seq: conv.readSent });
}

function select(id) {
  selected = id;
  convs.get(id).unread = 0;
  markRead(convs.get(id));
  renderHeld();
  renderConv();
  (convs.get(id).state === "active" ? $("text") : $("conv-heading")).focus();
}

async function claim(id, button) {
  button.disabled = true;
  const r = await api.post(`/api/v1/staff/conversations/${encodeURIComponent(id)}/claim`);
  if (!r.ok) {
    button.disabled = false;
    return failed(r);
  }
  adopt(r.data);
  notice("staff.claimed");
  select(id);
}

async function closeConversation() {
  const id = selected;
  const r = await api.post(`/api/v1/staff/conversations/${encodeURIComponent(id)}/close`, { outcome: "advice_given" });
  if (!r.ok && r.code !== "conversation_closed") return failed(r);
  adopt({ conversation_id: id, state: "closed" });
  notice("staff.closedDone");
  $("conv-heading").focus();
}

function failed(r) {
  if (r.status === 401) toLogin(i18n.errorKey(r.code));
  else notice(i18n.errorKey(r.code));
}

function onFrame(f) {
  if (f.type === "welcome") {
    $("who").textContent = f.staff.display_name;
    const held = new Set(f.conversations.map((c) => c.conversation_id));
    for (const conv of convs.values()) if (!held.has(conv.id)) conv.state = "closed"; // ended while away
    f.conversations.forEach(adopt);
    renderHeld();
    renderConv();
  } else if (f.type === "queue_update") {
    queue = f.queue;
    renderQueue();
  } else if (f.type === "state") adopt({ conversation_id: f.conversation_id, state: f.state });
  else if (f.type === "msg") {
    const conv = convs.get(f.conversation_id) ?? adopt({ conversation_id: f.conversation_id, state: "active" });
    if (conv.list.add(f) && conv.id !== selected) {
      conv.unread += 1;
      renderHeld();
    }
    if (conv.id === selected) markRead(conv);
  } else if (f.type === "ack") for (const conv of convs.values()) conv.list.acked(f.client_msg_id, f.seq);
  else if (f.type === "offer") {
    offers.set(f.conversation_id, f);
    renderOffers();
  } else if (f.type === "offer_withdrawn") {
    offers.delete(f.conversation_id);
    renderOffers();
  } else if (f.type === "alert") {
    const c = queue.find((q) => q.conversation_id === f.conversation_id) ?? convs.get(f.conversation_id)?.summary;
    i18n.text($("notice"), "staff.alert", { what: c ? describe(c) : f.conversation_id.slice(0, 8) });
  } else if (f.type === "released") {
    convs.delete(f.conversation_id);
    if (selected === f.conversation_id) selected = null;
    notice("staff.released");
    renderHeld();
    renderConv();
  } else if (f.type === "notes") {
    const conv = convs.get(f.conversation_id);
    if (conv) {
      conv.notes = f.notes;
      if (conv.id === selected) renderConv();
    }
  } else if (f.type === "error") onError(f);
}

function onError(f) {
  if (f.code === "unauthorized" || f.code === "session_expired") return toLogin(i18n.errorKey(f.code));
  if (!socket.ready && (f.code === "forbidden" || f.code === "bad_last_seq")) {
    convs.clear(); // our last_seq named something no longer ours: start over from what the server says
    selected = null;
    return socket.restart();
  }
  if (f.client_msg_id) for (const conv of convs.values()) conv.list.failed(f.client_msg_id, f.code);
  notice(i18n.errorKey(f.code));
}

function send(event) {
  event.preventDefault();
  const conv = convs.get(selected);
  const text = $("text").value;
  if (!conv || !text.trim()) return;
  const id = newMessageId();
  conv.list.sending(id, text);
  socket.send({ type: "msg", conversation_id: conv.id, client_msg_id: id, text });
  $("text").value = "";
  $("text").focus();
}

function enter(me) {
  api.setCsrf(me.csrf_token);
  $("who").textContent = me.display_name;
  $("login").hidden = true;
  $("console").hidden = false;
  $("logout").hidden = false;
  const lastSeq = () => Object.fromEntries(
    [...convs.values()].filter((c) => c.state === "active").map((c) => [c.id, c.list.lastSeq]));
  socket = new ChatSocket("/ws/staff", {
    hello: () => ({ type: "hello", last_seq: lastSeq() }),
    onFrame,
    onStatus: (status) => (status === "ended" ? toLogin("error.unauthorized") : i18n.text($("conn"), `conn.${status}`)),
  });
  socket.start();
  renderQueue();
  renderHeld();
  renderConv();
}

function toLogin(noteKey) {
  socket?.stop();
  socket = null;
  api.setCsrf(null);
  convs.clear();
  queue = [];
  selected = null;
  $("who").textContent = "";
  $("notice").textContent = "";
  $("console").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  if (noteKey) i18n.text($("login-error"), noteKey);
  else $("login-error").textContent = "";
  $("username").focus();
}

async function login(event) {
  event.preventDefault();
  $("login-button").disabled = true;
  $("login-error").textContent = "";
  const r = await api.post("/api/v1/staff/login", { username: $("username").value, password: $("password").value });
  $("login-button").disabled = false;
  $("password").value = "";
  if (r.ok) enter(r.data);
  else i18n.text($("login-error"), i18n.errorKey(r.code));
}

async function loadLabels() {
  const r = await api.get("/api/v1/intake");
  if (!r.ok) return; // rows show codes instead of names
  setLabels(r.data);
  [renderQueue, renderHeld, renderConv].forEach((fn) => fn());
}

async function main() {
  await i18n.init().catch(() => {});
  i18n.bindSwitch($("lang"));
  i18n.onChange(() => [renderQueue, renderHeld, renderConv].forEach((fn) => fn()));
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", async () => {
    await api.post("/api/v1/staff/logout");
    toLogin("staff.loggedOut");
  });
  $("send-form").addEventListener("submit", send);
  $("close").addEventListener("click", closeConversation);
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("send-form").requestSubmit();
    }
  });
  loadLabels();
  const me = await api.get("/api/v1/staff/me");
  if (me.ok) enter(me.data);
  else toLogin(me.code === "network" ? "error.network" : null);
}

main();
