// staff-scroll.js — where the open conversation's messages stand: the pane sized to the screen (heading,
// actions, messages and composer in view together), the message log following new messages while the reader
// is at its end, a "Nya meddelanden ↓" button with a count when they read further up, a conversation opened
// at its newest message (or its first unread, or a risk-signal message not yet seen), and a risk-signal
// message brought into view and marked in words and shape. The log is the scroller, not the page.

import * as i18n from "./i18n.js";

const $ = (id) => document.getElementById(id);
const SLACK = 48; // px from the end that still count as "at the end"
const wide = matchMedia("(min-width: 48rem)"); // staff.css: from here the pane is fitted to the window by height
let unseen = 0; // messages from the other side below the visible part of the open conversation
let pinned = true; // the reader is at the end: a log made shorter or longer (a notice, the keyboard) stays there

const log = () => $("log");
export const atEnd = () => {
  const el = log();
  return el.scrollHeight - el.scrollTop - el.clientHeight <= SLACK;
};
function end() {
  log().scrollTop = log().scrollHeight;
  pinned = true;
  clearUnseen();
}

// What MessageList calls (instead of scrolling the page): a list only moves the log it is shown in.
export const follow = {
  atEnd: () => atEnd(),
  toEnd: (listEl) => { if (log().contains(listEl)) end(); },
};

export function init() {
  log().addEventListener("scroll", () => {
    pinned = atEnd();
    if (unseen && pinned) clearUnseen();
  }, { passive: true });
  new ResizeObserver(() => { if (pinned) log().scrollTop = log().scrollHeight; }).observe(log());
  $("new-below").addEventListener("click", () => {
    end();
    log().focus({ preventScroll: true }); // the button goes away: the messages keep the focus
  });
  addEventListener("resize", fit);
  wide.addEventListener("change", () => {
    fit();
    // Now a phone (a window made narrow, a tablet turned): the pane, not the header, on screen.
    if (!wide.matches && !$("conv").hidden) $("conv-pane").scrollIntoView({ block: "start" });
  });
  const watch = new ResizeObserver(() => fit());
  for (const el of [document.querySelector(".staff-bar"), document.querySelector(".held"), $("notice"), $("conn")]) {
    if (el) watch.observe(el);
  }
}

// Wide screens: the pane fills the window from where it starts, so the page itself need not scroll to see
// the composer. On a phone the stylesheet gives it the screen's height (100dvh) and opening scrolls to it.
export function fit() {
  const pane = $("conv-pane");
  if (!wide.matches || $("conv").hidden) {
    document.documentElement.style.removeProperty("--pane-h");
    return;
  }
  const top = pane.getBoundingClientRect().top + window.scrollY;
  document.documentElement.style.setProperty("--pane-h", `${Math.max(0, Math.floor(window.innerHeight - top - 12))}px`);
}

// A conversation was put on screen (a tab, a reload, logging in again, taking it): at a risk-signal message
// not yet brought into view, else at its first unread message, else at its newest.
export function opened(conv) {
  clearUnseen();
  fit();
  if (!wide.matches) $("conv-pane").scrollIntoView({ block: "start" });
  const risky = conv.riskSeen === false ? item(conv, conv.riskSeq) : null;
  const unread = conv.firstUnread ? item(conv, conv.firstUnread) : null;
  conv.firstUnread = null;
  if (risky) return bring(conv, risky);
  if (unread) {
    log().scrollTop = unread.offsetTop - 8; // the log is the offset parent (position: relative)
    pinned = atEnd();
    if (!pinned) more(0);
    return;
  }
  end();
}

// A new message of the other side arrived in the open conversation: if the log did not follow it (the reader
// is further up), the button says how many are below.
export function arrived(conv, frame) {
  if (conv.riskSeq === frame.seq) return mark(conv, conv.riskSeen === false);
  if (!atEnd()) more(1);
}

// A message of a conversation not open arrived: the one that raised a risk signal is marked, and brought into
// view at the next opening unless that happened already (a reload: the server's risk_seq).
export function arrivedElsewhere(conv, frame) {
  if (conv.riskSeq !== frame.seq) return;
  if (conv.riskSeen === false) risk(conv, frame.seq, false);
  else mark(conv, false);
}

// A risk signal (the alert frame names the message): marked, and in the open conversation brought into view
// whatever the reader was looking at. A conversation not open gets it when it is opened.
export function risk(conv, seq, open) {
  if (!seq) return;
  conv.riskSeq = seq;
  conv.riskSeen = false;
  mark(conv, open);
}

function mark(conv, open = true) {
  const li = item(conv, conv.riskSeq);
  if (!li) return; // its msg frame comes later: arrived() marks it then
  if (!li.classList.contains("msg--risk")) {
    li.classList.add("msg--risk");
    li.prepend(i18n.text(Object.assign(document.createElement("p"), { className: "msg__flag" }), "staff.riskMessage"));
  }
  if (open) bring(conv, li);
}

function bring(conv, li) {
  const el = log();
  if (!el.clientHeight) return; // not on screen (a phone showing the queue): when it is opened
  conv.riskSeen = true;
  const top = li.offsetTop;
  // The whole message when it fits, else its start; messages below it count as unseen.
  el.scrollTop = li.offsetHeight + 16 > el.clientHeight ? top - 8 : top - (el.clientHeight - li.offsetHeight) + 16;
  pinned = atEnd();
  if (!pinned) more(0);
  else clearUnseen();
}

const item = (conv, seq) => (seq ? conv.list.el.querySelector(`li[data-seq="${seq}"]`) : null);

function more(n) {
  const first = unseen === 0;
  unseen += n;
  const button = $("new-below");
  button.hidden = false;
  i18n.text(button, unseen ? "staff.newBelowCount" : "staff.newBelow", { count: unseen });
  if (first && n > 0) i18n.text($("new-live"), "staff.newBelowSaid");
}

function clearUnseen() {
  unseen = 0;
  $("new-below").hidden = true;
  $("new-live").textContent = "";
}
