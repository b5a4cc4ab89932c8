// socket.js — one reconnecting WebSocket. Says hello on every (re)connect (the page supplies the
// frame, with its last_seq, so the server replays what was missed), reconnects with jittered
// exponential back-off, keeps the line alive with pings, and resends every message not yet acked
// with the SAME client_msg_id: the server stores it once and acks the first copy again.
// A lost line is noticed within seconds, not at the next TCP timeout: the browser going offline, a ping
// or a message the server does not answer within REPLY_MS, or a connection that never says welcome.

const PING_MS = 15_000;
const REPLY_MS = 5_000; // a ping or a message unanswered for this long: the line is dead, reconnect
const WELCOME_MS = 10_000; // connected (or trying to) without a welcome for this long: try again
const MAX_DELAY_MS = 30_000;
const RETRY_MS = 3_000;
// The server said "send it again" for these; anything else refuses the message for good.
const RETRYABLE = new Set(["rate_limited", "unavailable", "internal", "conflict"]);
// Close codes after which reconnecting cannot help (4401: token or session not valid; 4403: this account
// may not open it, e.g. an auditor's; 4410: the conversation was deleted under the retention rules).
const FINAL = new Set([4401, 4403, 4410]);

export function newMessageId() {
  if (crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export class ChatSocket {
  // hello(): the hello frame to send; onFrame(frame);
  // onStatus("connecting"|"open"|"waiting"|"offline"|"ended", closeCode): "waiting" and "offline" mean no
  // connection now (offline: the browser says it has no network); messages sent meanwhile go when it is back.
  constructor(path, { hello, onFrame, onStatus = () => {} }) {
    Object.assign(this, { path, hello, onFrame, onStatus });
    this.pending = new Map(); // client_msg_id → msg frame, until acked
    this.ws = null;
    this.ready = false; // welcome received on the current connection
    this.attempt = 0;
    this.stopped = true;
    this.onOnline = () => this.#now();
    this.onOffline = () => this.ws && this.#drop(this.ws);
  }

  // Try to connect now instead of at the end of the back-off (a "try again" tap).
  retryNow() {
    this.#now();
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.#open();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    this.#clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) ws.close(1000);
  }

  // Drop the connection and say hello again at once (e.g. after the page reset its last_seq).
  restart() {
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    this.#clearTimers();
    if (ws) ws.close(1000);
    if (!this.stopped) this.#open();
  }

  send(frame) {
    if (frame.type === "msg") this.pending.set(frame.client_msg_id, frame);
    if (this.ready) {
      this.#write(frame); // msgs wait for the next welcome; typing etc. are dropped
      if (frame.type === "msg") this.#expectReply();
    }
  }

  #clearTimers() {
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.replyTimer);
    clearTimeout(this.welcomeTimer);
    this.replyTimer = null;
  }

  // Something must come back (an ack, a pong, anything) within REPLY_MS of a write, or the line is gone.
  #expectReply() {
    if (this.replyTimer) return;
    const since = Date.now();
    this.replyTimer = setTimeout(() => {
      this.replyTimer = null;
      if (this.ws && this.heard < since) this.#drop(this.ws);
    }, REPLY_MS);
  }

  // Give up on this connection now and reconnect (with back-off).
  #drop(ws) {
    this.#closed(ws, 1006);
    try {
      ws.close();
    } catch {
      // already closing
    }
  }

  #open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${this.path}`);
    this.ws = ws;
    this.ready = false;
    this.heard = Date.now();
    clearTimeout(this.welcomeTimer);
    this.welcomeTimer = setTimeout(() => !this.ready && this.ws === ws && this.#drop(ws), WELCOME_MS);
    this.onStatus("connecting");
    ws.addEventListener("open", () => ws.send(JSON.stringify(this.hello())));
    ws.addEventListener("message", (ev) => this.#receive(ws, ev.data));
    ws.addEventListener("close", (ev) => this.#closed(ws, ev.code));
  }

  #write(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  #receive(ws, raw) {
    if (ws !== this.ws) return;
    this.heard = Date.now();
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (frame.type === "pong") return;
    if (frame.type === "welcome") {
      this.ready = true;
      this.attempt = 0;
      clearTimeout(this.welcomeTimer);
      this.#keepAlive();
      this.onStatus("open");
      this.onFrame(frame);
      for (const msg of this.pending.values()) this.#write(msg);
      if (this.pending.size) this.#expectReply();
      return;
    }
    if (frame.type === "ack") this.pending.delete(frame.client_msg_id);
    // "Not now" (many reconnecting at once): the server closes next; come back no sooner than it says.
    if (frame.type === "error" && frame.retry_after) this.notBefore = Date.now() + 1000 * frame.retry_after;
    if (frame.type === "error" && this.pending.has(frame.client_msg_id)) {
      // A staff session ran out under this message: it was not stored; it goes again after a new login.
      if (frame.code === "session_expired") return this.onFrame(frame);
      if (RETRYABLE.has(frame.code)) {
        this.#resendLater(frame.client_msg_id);
        return;
      }
      this.pending.delete(frame.client_msg_id);
    }
    this.onFrame(frame);
  }

  #resendLater(id) {
    setTimeout(() => {
      const msg = this.pending.get(id);
      if (msg && this.ready) {
        this.#write(msg);
        this.#expectReply();
      }
    }, RETRY_MS);
  }

  #keepAlive() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (!this.ws) return;
      this.#write({ type: "ping" });
      this.#expectReply();
    }, PING_MS);
  }

  #closed(ws, code) {
    if (ws !== this.ws) return; // an old connection, already replaced
    this.ws = null;
    this.ready = false;
    this.#clearTimers();
    if (this.stopped) return;
    if (FINAL.has(code)) {
      this.stopped = true;
      this.onStatus("ended", code);
      return;
    }
    this.onStatus(navigator.onLine === false ? "offline" : "waiting", code);
    const backoff = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    const delay = Math.max(backoff, (this.notBefore || 0) - Date.now());
    this.notBefore = 0;
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.#open(), delay);
  }

  #now() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.#open();
  }
}
