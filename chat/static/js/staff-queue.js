// staff-queue.js — the waiting line of the person's teams and the offers made to them: rows drawn from
// queue_update and offer frames (most urgent first, as the server orders them), waiting times that tick
// every second on the server's clock (each queue_update carries the server's `now`; the browser's own
// clock may be off by days), and which urgent conversations are new since the last update. A conversation
// on offer to this person is drawn once, among the offers (with take and decline), whether the offer frame
// or a queue row saying `offered_to_me` (after a reload) told us; it is counted once. Claiming and
// answering an offer are the page's business (callbacks); this module only draws and counts.

import * as i18n from "./i18n.js";
import * as L from "./staff-labels.js";

const $ = (id) => document.getElementById(id);
let queue = [];
const offers = new Map(); // conversation_id → offer frame
let urgentSeen = null; // ids already counted as urgent; null until the first update (nothing is "new" then)
let skew = 0; // the server's clock minus this browser's, from the last queue_update's `now`
let handlers = { claim: () => {}, answer: () => {}, changed: () => {} };

export function init(h) {
  handlers = { ...handlers, ...h };
  setInterval(tick, 1000);
}

// How many conversations wait for this person: the queue and the offers, each conversation once.
export const size = () => new Set([...queue.map((c) => c.conversation_id), ...offers.keys()]).size;

// What time it is on the server, as far as this browser can tell.
export const serverNow = () => Date.now() + skew;

// A queue_update (its list and the server's `now`); returns the conversations that became urgent since the last one.
export function update(list, now) {
  const at = Date.parse(now ?? "");
  if (Number.isFinite(at)) skew = at - Date.now();
  queue = list;
  const running = (until) => Date.parse(until ?? "") > serverNow();
  for (const [id, o] of offers) if (!running(o.expires_at)) offers.delete(id); // ran out, whatever was missed
  for (const c of list) {
    const known = offers.get(c.conversation_id);
    if (known) known.conversation = c; // the offer frame's summary is as old as the offer: keep it current
    else if (c.offered_to_me && running(c.offer_expires_at)) {
      offers.set(c.conversation_id, { conversation_id: c.conversation_id, expires_at: c.offer_expires_at, conversation: c });
    }
  }
  const urgent = list.filter(L.isUrgent);
  const fresh = urgentSeen ? urgent.filter((c) => !urgentSeen.has(c.conversation_id)) : [];
  urgentSeen = new Set(urgent.map((c) => c.conversation_id));
  redraw();
  return fresh;
}

// Taken by someone else a moment ago: the row goes at once, before the server's next update.
export function drop(id) {
  queue = queue.filter((c) => c.conversation_id !== id);
  draw();
}

export const find = (id) => queue.find((c) => c.conversation_id === id) ?? offers.get(id)?.conversation;

export function offer(frame) {
  offers.set(frame.conversation_id, frame);
  redraw();
}

export function withdraw(id) {
  offers.delete(id);
  redraw();
}

export function reset() {
  queue = [];
  offers.clear();
  urgentSeen = null;
  redraw();
}

export function redraw() {
  draw();
  drawOffers();
}

function facts(c) {
  const parts = [];
  const wait = L.make("span");
  wait.append(i18n.t("staff.waited") + " ", L.make("span", { className: "tick", textContent: L.waited(c.queued_at ?? c.created_at, serverNow()) }));
  wait.querySelector(".tick").dataset.since = c.queued_at ?? c.created_at;
  parts.push(wait);
  if (c.team) parts.push(L.teamName(c.team));
  for (const line of L.screeningLines(c.screening)) parts.push(line);
  if (c.reopened) parts.push(i18n.t("staff.reopened"));
  if (c.after_hours) parts.push(i18n.t("staff.afterHours"));
  if (c.offered_to != null && !c.offered_to_me && !offers.has(c.conversation_id)) parts.push(i18n.t("staff.offeredElsewhere"));
  const here = L.presence(c);
  if (here) parts.push(here);
  const p = L.make("p", { className: "qrow__meta" });
  parts.forEach((part, i) => p.append(...(i ? [" · ", part] : [part])));
  return p;
}

function row(c, idPrefix) {
  const urgent = L.isUrgent(c);
  const li = L.make("li", { className: urgent ? "qrow qrow--urgent" : "qrow" });
  li.dataset.id = c.conversation_id;
  const main = L.make("div", { className: "qrow__main" });
  const title = L.make("p", { className: "qrow__title", id: `${idPrefix}-${c.conversation_id}` });
  if (urgent) title.append(L.make("strong", { className: "badge badge--urgent", textContent: i18n.t("staff.urgent") }), " ");
  else if ((c.priority ?? 0) > 0) title.append(L.make("strong", { className: "badge", textContent: i18n.t("staff.high") }), " ");
  title.append(L.describe(c));
  main.append(title, facts(c));
  const reasons = L.reasonTexts(c.reasons);
  if (reasons.length) {
    const ul = L.make("ul", { className: "qrow__reasons" });
    ul.append(...reasons.map((r) => L.make("li", { textContent: r })));
    main.append(ul);
  }
  li.append(main);
  return li;
}

function draw() {
  const rows = queue.filter((c) => !offers.has(c.conversation_id)); // an offer to me is drawn among the offers
  $("queue-empty").hidden = rows.length > 0;
  $("queue").replaceChildren(...rows.map((c) => {
    const li = row(c, "q");
    const button = L.make("button", { type: "button", className: "button", textContent: i18n.t("staff.claim") });
    button.setAttribute("aria-describedby", `q-${c.conversation_id}`);
    button.addEventListener("click", () => handlers.claim(c.conversation_id, button));
    li.append(button);
    return li;
  }));
  handlers.changed();
}

function drawOffers() {
  $("offers-panel").hidden = offers.size === 0;
  $("offers").replaceChildren(...[...offers.values()].map((o) => {
    const li = row(o.conversation, "o");
    const left = L.make("p", { className: "qrow__meta" });
    const tickEl = L.make("span", { className: "tick" });
    tickEl.dataset.until = o.expires_at;
    left.append(i18n.t("staff.offerAnswerWithin") + " ", tickEl);
    li.querySelector(".qrow__main").append(left);
    const buttons = L.make("div", { className: "qrow__buttons" });
    for (const verb of ["accept", "decline"]) {
      const b = L.make("button", { type: "button", className: verb === "accept" ? "button" : "button button--quiet",
        textContent: i18n.t(`staff.${verb}`) });
      b.setAttribute("aria-describedby", `o-${o.conversation_id}`);
      b.addEventListener("click", () => handlers.answer(o.conversation_id, verb, b));
      buttons.append(b);
    }
    li.append(buttons);
    return li;
  }));
  tick();
  handlers.changed();
}

// Every second: how long each has waited, how long an offer still stands.
function tick() {
  const now = serverNow();
  for (const el of document.querySelectorAll(".tick[data-since]")) el.textContent = L.waited(el.dataset.since, now);
  for (const el of document.querySelectorAll(".tick[data-until]")) {
    const s = Math.max(0, Math.round((Date.parse(el.dataset.until) - now) / 1000));
    el.textContent = i18n.t("staff.waitSeconds", { s });
  }
}
