// staff-held.js — the conversations this person holds, as the console keeps them: one entry per
// conversation (summary, state, message list, unread count, notes, the visitor's typing, the read
// receipt already sent), which one is open (kept over a reload of this browser tab), the read receipts
// for it, and the narrow-screen switch between the queue and the conversations. Drawing the tabs and
// the open conversation is staff-tabs.js's and staff-conversation.js's; this module calls them.

import * as i18n from "./i18n.js";
import { MessageList } from "./messages.js";
import * as view from "./staff-conversation.js";
import * as drafts from "./staff-drafts.js";
import * as Q from "./staff-queue.js";
import * as scroll from "./staff-scroll.js";
import * as tabs from "./staff-tabs.js";

const $ = (id) => document.getElementById(id);
const SELECTED = "mm.staff.selected"; // the open tab, kept over a reload of this browser tab
const convs = new Map(); // conversation_id → {id, summary, state, list, unread, notes, typing, readSent}
let selected = null;
let send = () => {}; // send(frame) on the staff socket

// sendFrame(frame): the page's socket (a message retried from the list, a read receipt).
export function init(sendFrame) {
  send = sendFrame;
}

export const get = (id) => convs.get(id);
export const has = (id) => convs.has(id);
export const all = () => [...convs.values()];
export const size = () => convs.size;
export const selectedId = () => selected;
export const savedId = () => sessionStorage.getItem(SELECTED);

// A conversation summary (welcome, claim, accept, state): a new entry, or the known one brought up to date.
export function adopt(c) {
  let conv = convs.get(c.conversation_id);
  if (!conv) {
    conv = { id: c.conversation_id, summary: { ...c }, state: c.state ?? "active", unread: 0, notes: [], readSent: 0,
      list: new MessageList("staff", (cmid, text) => send({ type: "msg", conversation_id: c.conversation_id, client_msg_id: cmid, text }),
        scroll.follow) };
    convs.set(conv.id, conv);
  } else if (c.role !== undefined || c.team !== undefined) conv.summary = { ...conv.summary, ...c };
  if (c.state) conv.state = c.state;
  // The message that raised a risk signal, as the server kept it: marked again after a reload or a new login
  // (without moving the reader: it was brought into view when it came).
  if (c.risk_seq && conv.riskSeq === undefined) {
    conv.riskSeq = c.risk_seq;
    conv.riskSeen = true;
  }
  // How far the young person has read, as the server kept it: "Läst" marks survive a reload.
  if (c.visitor_read_seq > 0) conv.list.readUpTo(c.visitor_read_seq);
  drawHeld();
  return conv;
}

export function drawHeld() {
  tabs.draw(all(), selected);
  if (view.shown() && !convs.has(view.shown().id)) view.show(null);
  counts();
}

export function counts() {
  const waiting = Q.size(); // the queue and the offers, each conversation once
  $("view-queue-count").textContent = waiting ? `(${waiting})` : "";
  const unread = all().reduce((n, c) => n + c.unread, 0);
  $("view-conv-count").textContent = convs.size ? `(${convs.size}${unread ? `, ${i18n.t("staff.unread", { count: unread })}` : ""})` : "";
}

export function select(id, { focus = null, keepFocus = false } = {}) {
  const conv = convs.get(id);
  if (!conv) return;
  selected = id;
  sessionStorage.setItem(SELECTED, id);
  conv.unread = 0;
  drawHeld();
  view.show(conv, keepFocus ? null : focus ?? "heading");
  markRead();
}

export function forget(id) {
  convs.delete(id);
  drafts.set(id, "");
  if (selected === id) {
    selected = convs.keys().next().value ?? null;
    if (selected) select(selected, { focus: "heading" });
    else {
      sessionStorage.removeItem(SELECTED);
      view.show(null);
    }
  }
  drawHeld();
}

// Everything forgotten (another person, or the server no longer agrees with our last_seq); drafts stay.
export function clear({ forgetSelected = false } = {}) {
  convs.clear();
  selected = null;
  if (forgetSelected) sessionStorage.removeItem(SELECTED);
  view.show(null);
  drawHeld();
}

// The last seq of each conversation still held, for the socket's hello.
export const lastSeq = () => Object.fromEntries(all().filter((c) => c.state === "active").map((c) => [c.id, c.list.lastSeq]));

// Read receipts for the open conversation: what has been on screen while the console was visible. A burst
// of messages (the replay of a long conversation at login) gives one receipt, not one a message: the socket's
// rate limit counts frames, and thirty receipts at once were refused ("För många meddelanden").
let readTimer = null;
export function markRead() {
  if (readTimer === null) readTimer = setTimeout(sendRead, READ_COALESCE_MS);
}

const READ_COALESCE_MS = 150;

function sendRead() {
  readTimer = null;
  const conv = convs.get(selected);
  if (!conv || document.visibilityState !== "visible" || conv.state !== "active") return;
  if (conv.list.lastSeq <= conv.readSent) return;
  conv.readSent = conv.list.lastSeq;
  send({ type: "read", conversation_id: conv.id, seq: conv.readSent });
}

// Narrow screens: the queue or the conversations, one at a time.
export function setView(which) {
  $("console").dataset.view = which;
  $("view-queue").setAttribute("aria-pressed", String(which === "queue"));
  $("view-conv").setAttribute("aria-pressed", String(which === "conv"));
  // A phone shows the conversation again: at its newest message (it could not be scrolled while hidden).
  if (which === "conv" && view.shown()) scroll.opened(view.shown());
}
