// staff-lists.js — the staff console's two lists, drawn from data: the queue (a Claim button per
// row) and the conversations this person holds (a button each to open one). No state of its own
// beyond the intake labels used to name topics and municipalities.

import * as i18n from "./i18n.js";

let labels = { topics: {}, municipalities: {} };

export function setLabels(intake) {
  labels = {
    topics: Object.fromEntries(intake.topics.map((t) => [t.id, t.label])),
    municipalities: Object.fromEntries(intake.municipalities.map((m) => [m.code, m.name])),
  };
}

const clock = (iso) => new Date(iso).toLocaleTimeString("sv-SE", { hour: "2-digit", minute: "2-digit" });

// "Samtal 1a2b3c4d · ung · Alkohol · Falun": what staff may know, never content.
export function describe(c) {
  const parts = [i18n.t("staff.convHeading", { id: c.conversation_id.slice(0, 8) })];
  if (c.role) parts.push(i18n.t(c.role === "young" ? "staff.roleYoung" : "staff.roleRelative"));
  if (c.topic) parts.push(i18n.pick(labels.topics[c.topic] ?? c.topic));
  if (c.municipality) parts.push(labels.municipalities[c.municipality] ?? c.municipality);
  return parts.join(" · ");
}

const make = (tag, props) => Object.assign(document.createElement(tag), props);

export function drawQueue(list, empty, queue, onClaim) {
  empty.hidden = queue.length > 0;
  list.replaceChildren(...queue.map((c) => {
    const text = make("p", { className: "row__text", id: `q-${c.conversation_id}` });
    const parts = [describe(c), i18n.t("staff.waitingSince", { time: clock(c.queued_at ?? c.created_at) })];
    if (c.priority >= 2) parts.unshift(i18n.t("staff.urgent"));
    else if (c.priority > 0) parts.push(i18n.t("staff.priority", { level: c.priority }));
    if (c.after_hours) parts.push(i18n.t("staff.afterHours"));
    if (c.reopened) parts.push(i18n.t("staff.reopened"));
    for (const [name, s] of Object.entries(c.screening ?? {})) parts.push(`${name.toUpperCase()} ${s.score}/${s.max_score} (${s.zone})`);
    const why = (c.reasons ?? []).map((r) => r[i18n.current()] ?? r.sv);
    if (why.length) parts.push(why.join("; "));
    text.textContent = parts.join(" · ");
    const button = make("button", { type: "button", className: "button", textContent: i18n.t("staff.claim") });
    button.setAttribute("aria-describedby", text.id);
    button.addEventListener("click", () => onClaim(c.conversation_id, button));
    const li = make("li", { className: c.priority >= 2 ? "row row--urgent" : "row" });
    li.append(text, button);
    return li;
  }));
}

// offers: [{conversation_id, expires_at, conversation}]
export function drawOffers(panel, list, offers, onAnswer) {
  panel.hidden = offers.length === 0;
  list.replaceChildren(...offers.map((o) => {
    const text = make("p", { className: "row__text", id: `o-${o.conversation_id}` });
    text.textContent = i18n.t("staff.offer", { time: clock(o.expires_at), what: describe(o.conversation) });
    const buttons = ["accept", "decline"].map((verb) => {
      const b = make("button", { type: "button", className: verb === "accept" ? "button" : "button button--quiet",
        textContent: i18n.t(`staff.${verb}`) });
      b.setAttribute("aria-describedby", text.id);
      b.addEventListener("click", () => onAnswer(o.conversation_id, verb, b));
      return b;
    });
    const li = make("li", { className: "row" });
    li.append(text, ...buttons);
    return li;
  }));
}

// notes: [{kind, author, text, ts}] — internal, drawn visibly apart from the conversation.
export function drawNotes(box, list, notes) {
  box.hidden = !notes?.length;
  list.replaceChildren(...(notes ?? []).map((n) => {
    const head = [n.kind === "transfer" ? i18n.t("staff.transferNote") : null, n.author, clock(n.ts)].filter(Boolean).join(" · ");
    const li = make("li", { className: "note-item" });
    li.append(make("strong", { textContent: head }), make("p", { textContent: n.text ?? "" }));
    return li;
  }));
}

// convs: [{id, summary, state, unread}]
export function drawHeld(list, empty, convs, selected, onSelect) {
  empty.hidden = convs.length > 0;
  list.replaceChildren(...convs.map((conv) => {
    const parts = [describe(conv.summary), i18n.t(conv.state === "active" ? "staff.convActive" : "staff.convClosed")];
    if (conv.unread) parts.push(i18n.t("staff.unread", { count: conv.unread }));
    const button = make("button", { type: "button", className: "button button--row", textContent: parts.join(" · ") });
    if (conv.id === selected) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => onSelect(conv.id));
    const li = make("li", { className: "row" });
    li.append(button);
    return li;
  }));
}
