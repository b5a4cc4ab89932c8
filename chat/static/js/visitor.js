// visitor.js — the visitor's page: intake form, start, then one conversation over /ws/visitor.
// The token lives in sessionStorage only (gone with the tab, never a cookie or localStorage).

import * as api from "./api.js";
import * as i18n from "./i18n.js";
import { MessageList } from "./messages.js";
import * as selftest from "./selftest.js";
import { ChatSocket, newMessageId } from "./socket.js";

const KEY = "mm.visitor";
const EXIT_URL = "https://www.google.com/search?q=väder";
const $ = (id) => document.getElementById(id);

let session = null; // {token, conversation_id, return_code}
let socket = null;
let list = null;
let staffName = null;
let state = null; // the conversation's state as the server last said it (welcome, state): the page shows it
let selfTests = []; // the instruments the region offers ("audit", "dudit")
let fitTests = null; // those that fit this conversation's person (welcome: none for a child or a relative)
const offeredTests = () => fitTests ?? selfTests;
let serverLanguages = ["sv"]; // the languages the region's staff and system lines use
let maxChars = 4000; // the longest message the server stores (from the intake)
let lastEscape = -Infinity; // when Escape was last pressed inside a field or dialog (two within a second leave)
let connected = true; // the socket said welcome and has not lost the line since
let crisisHidden = false; // the person hid the crisis banner ("Dölj")

// The conversation's language for the server: the page's, when the region offers it.
const conversationLanguage = () => (serverLanguages.includes(i18n.current()) ? i18n.current() : "sv");

// Quick exit: forget everything and leave without a history entry to come back to. The server is asked
// (keepalive: the request outlives the page) to end the token and to clear this origin's storage.
function quickExit() {
  try {
    const headers = session?.token ? { Authorization: `Bearer ${session.token}` } : {};
    fetch("/api/v1/visitor/forget", { method: "POST", keepalive: true, headers }).catch(() => {});
    socket?.stop();
    sessionStorage.clear();
  } finally {
    location.replace(EXIT_URL);
  }
}

function option(value, labels) {
  const el = document.createElement("option");
  el.value = value;
  return i18n.label(el, labels);
}

function renderIntake(intake) {
  selfTests = intake.self_tests ?? [];
  maxChars = intake.max_text_chars ?? maxChars;
  serverLanguages = intake.languages ?? ["sv"];
  const roles = $("roles");
  intake.roles.forEach((role, i) => {
    const wrap = document.createElement("div");
    wrap.className = "choice";
    const input = Object.assign(document.createElement("input"), {
      type: "radio", name: "role", value: role.id, id: `role-${role.id}`, required: true, checked: i === 0,
    });
    const lab = i18n.label(document.createElement("label"), role.label);
    lab.htmlFor = input.id;
    wrap.append(input, lab);
    roles.append(wrap);
  });
  for (const m of intake.municipalities) $("municipality").append(option(m.code, m.name));
  for (const topic of intake.topics) $("topic").append(option(topic.id, topic.label));
  for (const band of intake.age_bands) $("age").append(option(band.id, band.label));
  if (intake.open_now) i18n.text($("start-hours"), "start.openNow");
  renderCrisis(intake.crisis);
  const note = $("start-note");
  $("start-button").disabled = false; // out of hours a message can still be left
  if (intake.open_now) note.hidden = true;
  else i18n.text(note, "start.closedNow", { time: when(intake.next_opening) });
}

// "tisdag 09:00": a next opening in the reader's language.
function when(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(i18n.current() === "en" ? "en-GB" : "sv-SE",
    { weekday: "long", hour: "2-digit", minute: "2-digit" });
}

// The first two (112, then the region's next: the crisis line) stay on the first screen; the rest is one
// tap away under "Fler nummer".
function renderCrisis(resources) {
  const crisis = [...resources].sort((a, b) => (b.number === "112") - (a.number === "112"));
  const brief = crisis.slice(0, 2).map((c) => crisisLine(c, "span"));
  $("crisis-brief").replaceChildren(...brief.flatMap((el, i) => (i ? [document.createElement("br"), el] : [el])));
  $("crisis").replaceChildren(...crisis.slice(2).map((c) => crisisLine(c, "li")));
  $("crisis-box").hidden = crisis.length <= 2;
  const first = crisis[0];
  if (first) {
    $("crisis-alert-number").textContent = first.number;
    $("crisis-alert-number").href = `tel:${first.number.replace(/\s/g, "")}`;
  }
}

function crisisLine(c, tag) {
  const line = document.createElement(tag);
  const a = Object.assign(document.createElement("a"), { className: "crisis__number", href: `tel:${c.number.replace(/\s/g, "")}` });
  a.textContent = c.number;
  line.append(a, " ");
  // "1177 Vårdguiden" already says its number: the name without it, after the number as a link.
  const rest = c.name.startsWith(c.number) ? c.name.slice(c.number.length).trim() : c.name;
  if (rest) {
    const name = document.createElement("strong");
    name.textContent = rest;
    line.append(name, " ");
  }
  line.append("– ", i18n.label(document.createElement("span"), c.text));
  return line;
}

// A closed chat: the crisis numbers, open and announced at the top. A risk signal in what the person
// wrote: a banner right above the message box, where they are looking however long the chat is
// (announced at once, role=alert), with 112 and a way to every other number; the newest message stays
// in view above it.
// fresh: a crisis frame for a message just sent (shown even after "Dölj"); otherwise a welcome recalling an
// earlier risk signal, which leaves a banner the person hid hidden.
function showCrisis(resources, key, fresh = false) {
  if (resources?.length) renderCrisis(resources);
  $("crisis-box").open = true;
  if (key !== "crisis.risk" || $("chat").hidden) return i18n.text($("crisis-note"), key);
  if (crisisHidden && !fresh) return;
  crisisHidden = false;
  const follow = atEnd();
  $("crisis-alert").hidden = false;
  if (follow) toEnd();
}

const atEnd = () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160;
const toEnd = () => window.scrollTo(0, document.documentElement.scrollHeight);

// "Visa fler nummer": the whole list, open, scrolled into view and focused.
function showAllNumbers() {
  $("crisis-box").open = true;
  $("crisis-panel").scrollIntoView({ block: "start" });
  $("crisis-box").querySelector("summary").focus();
}

async function loadIntake() {
  const r = await api.get("/api/v1/intake");
  if (r.ok) renderIntake(r.data);
  else i18n.text($("start-note"), "start.loadFailed");
}

async function start(event) {
  event.preventDefault();
  const form = new FormData($("start-form"));
  const body = { role: form.get("role"), language: conversationLanguage() };
  for (const name of ["municipality", "topic", "age_band"]) if (form.get(name)) body[name] = form.get(name);
  const button = $("start-button");
  button.disabled = true;
  $("start-error").textContent = "";
  const r = await api.post("/api/v1/conversations", body);
  button.disabled = false;
  if (!r.ok) return i18n.text($("start-error"), "start.failed");
  const data = r.data;
  session = { token: data.visitor_token, conversation_id: data.conversation_id, return_code: data.return_code };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  openChat();
  showState("queued", data.queue);
  $("text").focus();
}

function openChat() {
  $("start").hidden = true;
  $("chat").hidden = false;
  $("crisis-box").open = false;
  $("crisis-alert").hidden = true;
  crisisHidden = false;
  $("return-code").textContent = session.return_code;
  $("send-form").hidden = false;
  $("new-chat").hidden = true;
  $("end").hidden = true;
  $("end-chat").hidden = false;
  $("feedback-form").reset();
  $("feedback-form").querySelectorAll("input, textarea, button").forEach((el) => { el.disabled = false; });
  for (const id of ["feedback-note", "copy-note"]) $(id).textContent = "";
  readSent = 0;
  state = null;
  list = new MessageList("visitor", (id, text) => {
    socket?.send({ type: "msg", client_msg_id: id, text });
    socket?.retryNow(); // "try again" without a connection: try to connect now, not at the end of the back-off
  });
  $("log").replaceChildren(list.el);
  connected = true;
  socket = new ChatSocket("/ws/visitor", {
    hello: () => ({ type: "hello", token: session.token, last_seq: list.lastSeq }),
    onFrame,
    onStatus: showConnection,
  });
  socket.start();
}

// Within seconds of losing the line (socket.js notices): say so above the message box, and each unsent
// message says it goes when the connection is back. Reconnect attempts in between ("connecting") keep
// saying it until the server has said welcome again.
function showConnection(status) {
  if (status === "open") connected = true;
  else if (status === "waiting" || status === "offline") connected = false;
  if (status === "connecting" && !connected) return;
  list?.setOnline(connected);
  if (status === "waiting" || status === "offline") i18n.text($("conn"), "conn.lost");
  else i18n.text($("conn"), `conn.${status}`);
  $("conn").classList.toggle("conn--lost", !connected);
}

function showQueue(queue) {
  if (!queue) return i18n.text($("state"), "state.queued");
  const minutes = Math.max(1, Math.round(queue.estimated_wait_s / 60));
  i18n.text($("state"), "state.queue", { position: queue.position, minutes });
}

// Everything the state decides is drawn from it, whatever was shown before: a conversation re-opened with
// the return code is waiting again even though its replayed history has a counsellor's messages in it.
function showState(next, queue) {
  state = next;
  // The self-test is offered while waiting, not in the middle of a conversation.
  $("selftest-open").hidden = state !== "queued" || offeredTests().length === 0 || !$("selftest").hidden;
  if (state !== "closed") {
    $("send-form").hidden = false;
    $("end-chat").hidden = false;
    $("new-chat").hidden = true;
    $("end").hidden = true;
  }
  if (state === "queued") return showQueue(queue);
  if (state === "active") {
    return staffName ? i18n.text($("state"), "state.active", { name: staffName }) : i18n.text($("state"), "state.activeNoName");
  }
  i18n.text($("state"), "state.closed");
  $("send-form").hidden = true;
  $("end-chat").hidden = true;
  $("new-chat").hidden = false;
  showEnd();
}

// The end: the return code once more, with a copy button and what it is for, and a short feedback form.
function showEnd() {
  if (!$("end").hidden || !session) return;
  $("end").hidden = false;
  $("end-code").textContent = session.return_code;
  $("end-heading").focus();
}

// "Avsluta samtalet" asks first: one stray tap must not end a conversation.
function askEndChat() {
  $("end-confirm").showModal();
  $("end-confirm-no").focus();
}

async function endChat() {
  $("end-confirm").close();
  const r = await api.post(`/api/v1/conversations/${encodeURIComponent(session.conversation_id)}/close`, {},
    { Authorization: `Bearer ${session.token}` });
  if (r.ok || r.code === "conversation_closed") showState("closed");
}

async function copyCode() {
  try {
    await navigator.clipboard.writeText(session.return_code);
    i18n.text($("copy-note"), "end.copied");
  } catch {
    i18n.text($("copy-note"), "end.copyFailed");
  }
}

function renderRatings() {
  const box = $("feedback-form").querySelector("fieldset");
  for (let n = 1; n <= 5; n += 1) {
    const wrap = Object.assign(document.createElement("div"), { className: "choice" });
    const input = Object.assign(document.createElement("input"), { type: "radio", name: "rating", value: String(n), id: `rating-${n}` });
    const lab = Object.assign(document.createElement("label"), { htmlFor: input.id, textContent: String(n) });
    wrap.append(input, lab);
    box.append(wrap);
  }
}

async function sendFeedback(event) {
  event.preventDefault();
  const rating = Number(new FormData($("feedback-form")).get("rating"));
  if (!rating) return i18n.text($("feedback-note"), "feedback.pick");
  const comment = $("feedback-comment").value.trim();
  const r = await api.post(`/api/v1/conversations/${encodeURIComponent(session.conversation_id)}/feedback`,
    comment ? { rating, comment } : { rating }, { Authorization: `Bearer ${session.token}` });
  if (r.ok || r.code === "conflict") {
    $("feedback-form").querySelectorAll("input, textarea, button").forEach((el) => { el.disabled = true; });
    return i18n.text($("feedback-note"), "feedback.thanks");
  }
  i18n.text($("feedback-note"), "feedback.failed");
}

// "I have a code": the same conversation with a new token; its history is replayed from the start.
async function returnWithCode(event) {
  event.preventDefault();
  const code = $("return-input").value.trim();
  if (!code) return;
  $("return-button").disabled = true;
  $("return-error").textContent = "";
  const r = await api.post("/api/v1/conversations", { return_code: code, language: conversationLanguage() });
  $("return-button").disabled = false;
  if (!r.ok) return i18n.text($("return-error"), r.status === 429 ? "return.tooMany" : "return.invalid");
  $("return-input").value = "";
  session = { token: r.data.visitor_token, conversation_id: r.data.conversation_id, return_code: r.data.return_code };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  openChat();
}

function onFrame(f) {
  if (f.type === "welcome") {
    if (f.staff) staffName = f.staff;
    if (Array.isArray(f.self_tests)) fitTests = f.self_tests;
    showState(f.state, f.queue);
    if (f.open === false) i18n.text($("state"), "state.closedNow", { time: when(f.opens_at) });
    if (f.crisis) showCrisis(f.crisis, f.open === false ? "crisis.closed" : "crisis.risk");
  } else if (f.type === "crisis") showCrisis(f.resources, "crisis.risk", true);
  else if (f.type === "queue") showQueue(f);
  else if (f.type === "screening_result") selftest.result(f);
  else if (f.type === "state") {
    if (f.staff) staffName = f.staff;
    showState(f.state);
  } else if (f.type === "msg") {
    list.add(f);
    if (f.from === "staff" && f.author && f.author !== staffName && state === "active") {
      staffName = f.author; // a colleague who took over: learn the name from their messages
      showState("active");
    }
    if (f.from === "staff") {
      showTyping(false);
      markRead();
    }
  } else if (f.type === "ack") list.acked(f.client_msg_id, f.seq, f.ts);
  else if (f.type === "typing" && f.from === "staff") showTyping(f.on);
  else if (f.type === "read" && f.from === "staff") list.readUpTo(f.seq);
  else if (f.type === "error") onError(f);
}

function onError(f) {
  if (f.code === "unauthorized" || f.code === "token_expired") return endSession("start.expired");
  if (f.code === "invalid_answers" || f.code === "self_test_not_for_you" || (f.code === "unsupported" && !f.client_msg_id)) {
    return selftest.failed(f);
  }
  if (f.code === "bad_last_seq") {
    list = new MessageList("visitor"); // our count is off: replay everything
    $("log").replaceChildren(list.el);
    return socket.restart();
  }
  if (f.client_msg_id) list.failed(f.client_msg_id, f.code);
  if (f.code === "conversation_closed") showState("closed");
}

// "Anna skriver …" while staff type; cleared by their message or after a quiet while (the server never
// sends "stopped" for someone who just went away).
let typingTimer = null;
function showTyping(on) {
  clearTimeout(typingTimer);
  $("typing").hidden = !on;
  if (on) {
    i18n.text($("typing"), staffName ? "chat.typingName" : "chat.typing", { name: staffName });
    typingTimer = setTimeout(() => showTyping(false), 8000);
  }
}

// Read receipts: what has been on screen while the page was visible. A burst of messages (the history of a
// re-opened conversation) gives one receipt, not one a message, which the socket's rate limit would refuse.
let readSent = 0;
let readTimer = null;
function markRead() {
  if (readTimer === null) readTimer = setTimeout(sendRead, 150);
}

function sendRead() {
  readTimer = null;
  if (document.visibilityState !== "visible" || !list || list.lastSeq <= readSent) return;
  readSent = list.lastSeq;
  socket?.send({ type: "read", seq: readSent });
}

// Our own typing: "on" at the first key, "off" after a quiet 4 s or when the message is sent.
let typingOn = false;
let quietTimer = null;
function typed() {
  if (!typingOn) {
    typingOn = true;
    socket?.send({ type: "typing", on: true });
  }
  clearTimeout(quietTimer);
  quietTimer = setTimeout(stopTyping, 4000);
}
function stopTyping() {
  clearTimeout(quietTimer);
  if (typingOn) socket?.send({ type: "typing", on: false });
  typingOn = false;
}

function endSession(noteKey) {
  socket?.stop();
  socket = null;
  session = null;
  staffName = null;
  state = null;
  fitTests = null;
  sessionStorage.removeItem(KEY);
  $("log").replaceChildren();
  $("chat").hidden = true;
  $("start").hidden = false;
  $("start-error").textContent = "";
  if (noteKey) i18n.text($("start-error"), noteKey);
}

// The length as the server counts it (code points, so an emoji is one).
const length = (text) => [...text].length;

// Near the limit a counter; over it the message box says so in words (once, as an alert, and again when
// Skicka is refused) instead of cutting what was written.
function countChars() {
  const count = length($("text").value);
  const over = count > maxChars;
  const counter = $("text-count");
  counter.hidden = count < maxChars * 0.9;
  counter.classList.toggle("count--over", over);
  if (!counter.hidden) i18n.text(counter, "chat.count", { count: fmt(count), max: fmt(maxChars) });
  if (!over) $("text-error").textContent = "";
  else if (!$("text-error").textContent) tooLong();
  $("text").setAttribute("aria-invalid", String(over));
  return over;
}

const tooLong = () => i18n.text($("text-error"), "chat.tooLong", { max: fmt(maxChars) });

const fmt = (n) => n.toLocaleString(i18n.current() === "en" ? "en-GB" : "sv-SE");

function send(event) {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim()) return;
  if (countChars()) {
    $("text-error").textContent = ""; // said again, so it is announced again
    requestAnimationFrame(tooLong);
    $("text").focus();
    return;
  }
  const id = newMessageId();
  list.sending(id, text);
  socket.send({ type: "msg", client_msg_id: id, text });
  stopTyping();
  $("text").value = "";
  countChars();
  $("text").focus();
}

// Escape leaves at once (quick exit), except inside a field or a dialog, where a single Escape may be
// meant for it (clearing, closing): there two presses within a second leave.
function onEscape(e) {
  if (e.key !== "Escape" || e.repeat) return;
  const inField = e.target instanceof Element && (e.target.closest("input, textarea, select, dialog") !== null);
  if (!inField || e.timeStamp - lastEscape < 1000) return quickExit();
  lastEscape = e.timeStamp;
}

async function main() {
  document.addEventListener("keydown", onEscape);
  $("exit").addEventListener("click", quickExit);
  await i18n.init().catch(() => {}); // without the strings the page keeps its Swedish text
  i18n.bindSwitch($("lang"));
  $("start-form").addEventListener("submit", start);
  $("text").addEventListener("input", typed);
  $("text").addEventListener("input", countChars);
  $("crisis-alert-more").addEventListener("click", showAllNumbers);
  $("crisis-alert-hide").addEventListener("click", () => {
    crisisHidden = true;
    $("crisis-alert").hidden = true;
    $("text").focus();
  });
  $("end-confirm-yes").addEventListener("click", endChat);
  $("end-confirm-no").addEventListener("click", () => $("end-confirm").close());
  document.addEventListener("visibilitychange", markRead);
  $("return-form").addEventListener("submit", returnWithCode);
  $("feedback-form").addEventListener("submit", sendFeedback);
  $("copy-code").addEventListener("click", copyCode);
  $("end-chat").addEventListener("click", askEndChat);
  renderRatings();
  $("send-form").addEventListener("submit", send);
  $("new-chat").addEventListener("click", () => endSession(null));
  $("selftest-open").addEventListener("click", () => {
    $("selftest-open").hidden = true;
    selftest.open($("selftest"), { instruments: offeredTests(), send: (frame) => socket?.send(frame) });
  });
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("send-form").requestSubmit();
    }
  });
  const saved = sessionStorage.getItem(KEY);
  if (saved) {
    session = JSON.parse(saved);
    openChat();
  }
  await loadIntake();
}

main();
