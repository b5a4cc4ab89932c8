// staff-tabs.js — the person's conversations as a tab list (WAI-ARIA tabs pattern: one tab in the Tab
// order, arrow keys, Home and End move between tabs and open them), each tab naming the conversation
// and its unread count, in its accessible name too.

import * as i18n from "./i18n.js";
import * as L from "./staff-labels.js";

const $ = (id) => document.getElementById(id);
let onSelect = () => {};

export function init(select) {
  onSelect = select;
  $("tabs").addEventListener("keydown", (e) => {
    const tabs = [...$("tabs").querySelectorAll('[role="tab"]')];
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const to = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const next = tabs[(to + tabs.length) % tabs.length];
    onSelect(next.dataset.id, { keepFocus: true });
    $(`tab-${next.dataset.id}`)?.focus();
  });
}

export const tabId = (id) => `tab-${id}`;

// convs: [{id, summary, state, unread}]
export function draw(convs, selected) {
  $("held-empty").hidden = convs.length > 0;
  const focused = document.activeElement?.dataset?.id;
  const inTabs = $("tabs").contains(document.activeElement);
  $("tabs").replaceChildren(...convs.map((conv, i) => {
    const on = conv.id === selected || (!selected && i === 0);
    const tab = L.make("button", { type: "button", id: tabId(conv.id), className: "tab" });
    tab.dataset.id = conv.id;
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-selected", String(conv.id === selected));
    tab.setAttribute("aria-controls", "conv");
    tab.tabIndex = on ? 0 : -1;
    const title = L.make("span", { className: "tab__title", textContent: L.describe(conv.summary) });
    const meta = [`#${conv.id.slice(0, 4)}`];
    if (L.isUrgent(conv.summary)) meta.push(i18n.t("staff.urgent"));
    if (conv.state === "closed") meta.push(i18n.t("staff.convClosed"));
    tab.append(title);
    if (meta.length) tab.append(L.make("span", { className: "tab__meta", textContent: meta.join(" · ") }));
    if (conv.unread) tab.append(L.make("span", { className: "tab__unread", textContent: String(conv.unread) }));
    if (L.isUrgent(conv.summary)) tab.classList.add("tab--urgent");
    const name = [L.describe(conv.summary), ...meta];
    if (conv.unread) name.push(i18n.t("staff.unread", { count: conv.unread }));
    tab.setAttribute("aria-label", name.join(", "));
    tab.addEventListener("click", () => onSelect(conv.id));
    return tab;
  }));
  if (inTabs && focused) $(tabId(focused))?.focus();
}
