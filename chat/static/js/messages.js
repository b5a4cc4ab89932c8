// messages.js — one conversation's message list: each message once (by seq), in seq order, text
// only via textContent. A message of one's own shows "sending …" from the moment it is typed until
// the server acks it ("sent", later "read"), and takes its place by seq then: the socket that sent it
// gets only the ack (seq and time), never the msg frame; other tabs get the msg frame. Without a
// connection it says it goes when the connection is back (state "unsent"), and one the server refused
// says so, with "try again" (state "failed").

import * as i18n from "./i18n.js";

// Whoever reads at the end of the page keeps up with new messages; whoever scrolled back is left alone.
// The page is the scroller by default; a page with its own message pane passes `follow` (staff-scroll.js).
const PAGE = {
  atEnd: () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160,
  toEnd: (list) => list.isConnected && window.scrollTo(0, document.documentElement.scrollHeight),
};

// The server refuses these whatever happens: no "try again", the words say what to change.
const REFUSED_FOR_GOOD = new Set(["text_too_long", "empty_text"]);

export class MessageList {
  // mine: the side whose messages are one's own ("visitor" or "staff")
  // onRetry(clientMsgId, text): send a failed message again, with the same id (the server stores it once)
  // follow: {atEnd(), toEnd(listEl)}, how the list keeps up with new messages (the page by default)
  constructor(mine, onRetry = null, follow = PAGE) {
    this.mine = mine;
    this.onRetry = onRetry;
    this.follow = follow;
    this.texts = new Map(); // client_msg_id → text, for a retry
    this.el = document.createElement("ol");
    this.el.className = "messages";
    this.el.setAttribute("aria-live", "polite");
    this.seqs = new Set();
    this.own = new Map(); // client_msg_id → <li>
    this.lastSeq = 0;
    this.readSeq = 0; // the other side has read up to here
    this.online = true; // false while the page has no connection (setOnline)
  }

  sending(clientMsgId, text) {
    const li = this.#item(this.mine, null, text, null);
    this.own.set(clientMsgId, li);
    this.texts.set(clientMsgId, text);
    this.#pending(clientMsgId, li);
    this.el.append(li);
    this.follow.toEnd(this.el);
  }

  // The connection went (false) or came back (true): one's own unacked messages say what happens to them.
  setOnline(online) {
    this.online = online;
    for (const [id, li] of this.own) if (li.dataset.state === "sending" || li.dataset.state === "unsent") this.#pending(id, li);
  }

  #pending(clientMsgId, li) {
    const status = li.querySelector(".msg__status");
    if (this.online) {
      li.dataset.state = "sending";
      status.replaceChildren(i18n.text(document.createElement("span"), "msg.sending"));
      return;
    }
    li.dataset.state = "unsent";
    status.replaceChildren(i18n.text(document.createElement("span"), "msg.unsent"));
    if (this.onRetry) status.append(" ", this.#retryButton(clientMsgId, li));
  }

  // One tap sends it again with the same id (the server stores it once).
  #retryButton(clientMsgId, li) {
    const retry = Object.assign(document.createElement("button"), { type: "button", className: "button button--quiet msg__retry" });
    i18n.text(retry, "msg.retry");
    retry.addEventListener("click", () => {
      this.#pending(clientMsgId, li);
      this.onRetry(clientMsgId, this.texts.get(clientMsgId));
    });
    return retry;
  }

  // A msg frame; true when it is new and from the other side (worth an unread mark).
  // lastSeq follows msg frames only (the server sends them in seq order): it is where a resume starts.
  add(frame) {
    this.lastSeq = Math.max(this.lastSeq, frame.seq);
    if (this.seqs.has(frame.seq)) return false;
    this.seqs.add(frame.seq);
    const li = this.own.get(frame.client_msg_id);
    if (li) {
      this.#placeOwn(li, frame.seq, frame.ts);
      return false;
    }
    const follow = this.follow.atEnd();
    const item = this.#item(frame.from, frame.author, frame.text, frame.ts);
    item.dataset.seq = String(frame.seq);
    if (frame.from === this.mine) {
      // One's own side, sent earlier or elsewhere (a reload, another tab): it can show "read" too.
      this.#settle(item, frame.seq);
      if (frame.seq <= this.readSeq) this.#markRead(item);
    }
    this.el.insertBefore(item, this.#before(frame.seq));
    if (follow) this.follow.toEnd(this.el);
    return frame.from !== this.mine;
  }

  // The ack of one's own message (seq, and ts: when it was stored); it stands for the msg frame, which
  // this socket is not sent. It does not move lastSeq: messages before it may still be on their way.
  acked(clientMsgId, seq, ts) {
    const li = this.own.get(clientMsgId);
    if (!li) return;
    this.seqs.add(seq);
    this.#placeOwn(li, seq, ts);
    if (seq <= this.readSeq) this.#markRead(li);
  }

  #placeOwn(li, seq, ts) {
    this.#settle(li, seq);
    if (ts && !li.querySelector("time")) li.querySelector(".msg__head").append(" ", this.#time(ts));
    this.el.insertBefore(li, this.#before(seq, li));
  }

  failed(clientMsgId, code) {
    const li = this.own.get(clientMsgId);
    if (!li) return;
    li.dataset.state = "failed";
    const status = li.querySelector(".msg__status");
    status.replaceChildren(i18n.text(document.createElement("span"), "msg.failed"), " ",
      i18n.text(document.createElement("span"), i18n.errorKey(code)));
    // Kept, never dropped: one tap sends it again with the same id (not when sending it again cannot help).
    if (!this.onRetry || !this.texts.has(clientMsgId) || REFUSED_FOR_GOOD.has(code)) return;
    status.append(" ", this.#retryButton(clientMsgId, li));
  }

  // The other side has read everything up to seq: one's own sent messages up to it say so.
  readUpTo(seq) {
    this.readSeq = Math.max(this.readSeq, seq);
    for (const li of this.el.querySelectorAll('.msg--mine[data-state="sent"]')) {
      if (Number(li.dataset.seq) <= seq) this.#markRead(li);
    }
  }

  #markRead(li) {
    if (li.dataset.read === "true") return;
    li.dataset.read = "true";
    li.querySelector(".msg__status").replaceChildren(i18n.text(document.createElement("span"), "msg.read"));
  }

  #settle(li, seq) {
    if (li.dataset.state === "sent") return;
    li.dataset.state = "sent";
    li.dataset.seq = String(seq);
    li.querySelector(".msg__status").replaceChildren(i18n.text(document.createElement("span"), "msg.sent"));
  }

  // Where the message with this seq goes: before the first one shown with a higher seq, else above
  // one's own still unsent ones (an ack can arrive before the other side's earlier messages).
  #before(seq, except = null) {
    for (const li of this.el.querySelectorAll("li[data-seq]")) {
      if (li !== except && li.dataset.state !== "sending" && li.dataset.state !== "unsent" && Number(li.dataset.seq) > seq) return li;
    }
    return this.#firstSending(except);
  }

  // Messages from others go above one's own still unsent ones.
  #firstSending(except) {
    for (const li of this.el.querySelectorAll('[data-state="sending"], [data-state="unsent"]')) if (li !== except) return li;
    return null;
  }

  #time(ts) {
    const time = document.createElement("time");
    time.dateTime = ts;
    time.textContent = new Date(ts).toLocaleTimeString("sv-SE", { hour: "2-digit", minute: "2-digit" });
    return time;
  }

  #item(from, author, text, ts) {
    const li = document.createElement("li");
    li.className = `msg msg--${from === this.mine ? "mine" : from}`;
    const head = document.createElement("p");
    head.className = "msg__head";
    const who = document.createElement("span");
    who.className = "msg__author";
    if (from === this.mine && !author) i18n.text(who, "msg.you");
    else if (author) who.textContent = author;
    else i18n.text(who, `msg.${from}`);
    head.append(who);
    if (ts) head.append(" ", this.#time(ts));
    const body = document.createElement("p");
    body.className = "msg__text";
    body.dir = "auto"; // Arabic or Persian reads right to left, Swedish left to right: each bubble by its own text
    // null: the stored text failed its integrity check; say so instead of showing anything.
    if (text === null || text === undefined) i18n.text(body, "msg.unreadable");
    else body.textContent = text;
    const status = document.createElement("span");
    status.className = "msg__status";
    li.append(head, body, status);
    return li;
  }
}
