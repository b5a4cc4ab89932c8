// socket.js — one reconnecting WebSocket. Says hello on every (re)connect (the page supplies the
// frame, with its last_seq, so the server replays what was missed), reconnects with jittered
// exponential back-off, keeps the line alive with pings, and resends every message not yet acked
// with the SAME client_msg_id: the server stores it once and acks the first copy again.

const PING_MS = 25_000;
const SILENT_MS = 60_000; // nothing heard for this long: the line is dead, reconnect
const MAX_DELAY_MS = 30_000;
const RETRY_MS = 3_000;
// The server said "send it again" for these; anything else refuses the message for good.
const RETRYABLE = new Set(["rate_limited", "unavailable", "internal", "conflict"]);
// Close codes after which reconnecting cannot help (4401: token or session not valid; 4410: the
// conversation was deleted under the retention rules).
const FINAL = new Set([4401, 4410]);

export function newMessageId() {
  if (crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export class ChatSocket {
  // hello(): the hello frame to send; onFrame(frame); onStatus("connecting"|"open"|"waiting"|"ended", closeCode)
  constructor(path, { hello, onFrame, onStatus = () => {} }) {
    Object.assign(this, { path, hello, onFrame, onStatus });
    this.pending = new Map(); // client_msg_id → msg frame, until acked
    this.ws = null;
    this.ready = false; // welcome received on the current connection
    this.attempt = 0;
    this.stopped = true;
    this.onOnline = () => this.#now();
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    this.#open();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
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
    clearInterval(this.pingTimer);
    clearTimeout(this.retryTimer);
    if (ws) ws.close(1000);
    if (!this.stopped) this.#open();
  }

  send(frame) {
    if (frame.type === "msg") this.pending.set(frame.client_msg_id, frame);
    if (this.ready) this.#write(frame); // msgs wait for the next welcome; typing etc. are dropped
  }

  #open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${this.path}`);
    this.ws = ws;
    this.ready = false;
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
      this.#keepAlive();
      this.onStatus("open");
      this.onFrame(frame);
      for (const msg of this.pending.values()) this.#write(msg);
      return;
    }
    if (frame.type === "ack") this.pending.delete(frame.client_msg_id);
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
      if (msg && this.ready) this.#write(msg);
    }, RETRY_MS);
  }

  #keepAlive() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws) return;
      if (Date.now() - this.heard > SILENT_MS) {
        this.#closed(ws, 1006);
        ws.close();
        return;
      }
      this.#write({ type: "ping" });
    }, PING_MS);
  }

  #closed(ws, code) {
    if (ws !== this.ws) return; // an old connection, already replaced
    this.ws = null;
    this.ready = false;
    clearInterval(this.pingTimer);
    if (this.stopped) return;
    if (FINAL.has(code)) {
      this.stopped = true;
      this.onStatus("ended", code);
      return;
    }
    this.onStatus("waiting", code);
    const delay = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
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
