// selftest.js — the self-test (AUDIT or DUDIT) a waiting visitor may fill in, one question at a time.
// STUB: being built; the interface below is what visitor.js calls.

// Show the self-test in `panel`; `send(frame)` sends the `screening` frame when the person is done.
export function open(panel, { instruments, send }) {
  panel.hidden = false;
  void instruments;
  void send;
}

// The server's `screening_result` frame.
export function result(frame) {
  void frame;
}

// An `error` frame answering the `screening` frame (invalid_answers, unsupported, rate_limited).
export function failed(frame) {
  void frame;
}
