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
    const parts = [describe(c), i18n.t("staff.waitingSince", { time: clock(c.created_at) })];
    if (c.priority > 0) parts.push(i18n.t("staff.priority", { level: c.priority }));
    text.textContent = parts.join(" · ");
    const button = make("button", { type: "button", className: "button", textContent: i18n.t("staff.claim") });
    button.setAttribute("aria-describedby", text.id);
    button.addEventListener("click", () => onClaim(c.conversation_id, button));
    const li = make("li", { className: "row" });
    li.append(text, button);
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
