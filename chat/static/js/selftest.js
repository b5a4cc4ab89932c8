// selftest.js — the self-test (AUDIT or DUDIT) a waiting visitor may fill in, one question at a time.
// Owns the panel's steps: choose a test, one question per step, sending, then the result or a failure.
// The questions and their published scores come from /static/selftest/<id>.json (the only requests
// made here); the server scores the answers again and says in plain words what they suggest.
// Every text goes in through i18n.text (a key) or i18n.label ({sv, en}), so a language switch
// re-translates the panel in place (i18n.apply) and keeps the focus and the answer chosen.

import * as i18n from "./i18n.js";

const SEND_TIMEOUT_MS = 20_000; // no answer by then: the socket was down, offer to send again
const loaded = new Map(); // instrument id → Promise<questions or null>

let ui = null; // {panel, heading, body, live, instruments, send}
let test = null; // {data, index, chosen: option index per item, path: items answered before this one}
let sent = null; // the last `screening` frame, kept for "send again" until a result comes
let timer = null;
let step = 0; // bumped on every render, so a late fetch does not draw over a newer step

// An element with properties (className, id, type …) and attributes (role, aria-*).
function el(tag, props = {}, attrs = {}) {
  const node = Object.assign(document.createElement(tag), props);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

const keyed = (tag, key, vars, props, attrs) => i18n.text(el(tag, props, attrs), key, vars);
const labelled = (tag, labels, props, attrs) => i18n.label(el(tag, props, attrs), labels);

function button(key, onClick, quiet = false, type = "button") {
  const b = keyed("button", key, undefined, { type, className: quiet ? "button button--quiet" : "button" });
  if (onClick) b.addEventListener("click", onClick);
  return b;
}

function actions(...buttons) {
  const row = el("div", { className: "selftest__actions" });
  row.append(...buttons);
  return row;
}

// The live region stays in place for the whole test (a region added together with its text is
// often not read); its text is what a screen reader hears without moving focus.
function setLive(...nodes) {
  ui.live.replaceChildren(...nodes);
}

function render(...nodes) {
  step += 1;
  ui.body.replaceChildren(...nodes);
  return step;
}

function valid(data, id) {
  return data?.id === id && Array.isArray(data.items) && data.items.length > 0
    && data.items.every((item) => item.text && Array.isArray(item.options) && item.options.length > 0);
}

function load(id) {
  if (!loaded.has(id)) {
    const pending = fetch(`/static/selftest/${id}.json`)
      .then((res) => (res.ok ? res.json() : null))
      .then((data) => (valid(data, id) ? data : null))
      .catch(() => null)
      .then((data) => {
        if (!data) loaded.delete(id); // try again next time
        return data;
      });
    loaded.set(id, pending);
  }
  return loaded.get(id);
}

// Show the self-test in `panel`; `send(frame)` sends the `screening` frame when the person is done.
export function open(panel, { instruments, send }) {
  clearTimeout(timer);
  const heading = keyed("h2", "selftest.heading", undefined, { id: "selftest-heading", tabIndex: -1 });
  const body = el("div", { className: "selftest__body" });
  const live = el("div", { className: "selftest__live" }, { role: "status" });
  panel.replaceChildren(heading, live, body); // the result (live) above the buttons that follow it
  panel.hidden = false;
  ui = { panel, heading, body, live, instruments: (instruments ?? []).filter((id) => /^[a-z]+$/.test(id)), send };
  test = null;
  sent = null;
  choose();
  heading.focus();
}

async function choose() {
  test = null;
  setLive();
  const mine = render(keyed("p", "selftest.loading", undefined, { className: "note" }));
  const tests = (await Promise.all(ui.instruments.map(load))).filter(Boolean);
  if (mine !== step) return;
  if (tests.length === 0) {
    const retry = button("selftest.retry", () => choose().then(() => ui.body.querySelector("button")?.focus()));
    render(keyed("p", "selftest.loadFailed", undefined, { className: "error" }, { role: "alert" }),
      actions(retry, button("selftest.notNow", cancel, true)));
    return;
  }
  const list = el("ul", { className: "selftest__tests" }, { "aria-labelledby": "selftest-choose" });
  for (const data of tests) {
    const intro = labelled("p", data.intro, { className: "hint", id: `selftest-intro-${data.id}` });
    const pick = labelled("button", data.title, { type: "button", className: "button button--row" },
      { "aria-describedby": intro.id });
    pick.addEventListener("click", () => begin(data));
    const li = el("li");
    li.append(pick, intro);
    list.append(li);
  }
  render(keyed("p", "selftest.about"), keyed("p", "selftest.choose", undefined, { id: "selftest-choose", className: "selftest__ask" }),
    list, actions(button("selftest.notNow", cancel, true)));
}

function begin(data, chosen = []) {
  test = { data, index: 0, chosen, path: [] };
  question();
}

function question() {
  const { data, index } = test;
  const item = data.items[index];
  const last = index === data.items.length - 1; // a skip rule never jumps past the last item
  const form = el("form", { className: "selftest__form", noValidate: true });
  const fieldset = el("fieldset", { className: "selftest__question" });
  const legend = el("legend", { className: "selftest__legend", tabIndex: -1 });
  legend.append(
    keyed("span", "selftest.progress", { n: index + 1, total: data.items.length }, { className: "selftest__progress" }),
    labelled("span", item.text, { className: "selftest__text" }),
  );
  fieldset.append(legend);
  const described = ["selftest-error"];
  if (item.help) {
    fieldset.append(labelled("p", item.help, { className: "hint", id: "selftest-help" }));
    described.unshift("selftest-help");
  }
  fieldset.setAttribute("aria-describedby", described.join(" "));
  const options = el("div", { className: "selftest__options" });
  item.options.forEach((option, i) => {
    const id = `selftest-${index}-${i}`;
    const wrap = el("div", { className: "selftest__option" });
    const input = el("input", { type: "radio", name: `selftest-${index}`, value: String(i), id, checked: test.chosen[index] === i });
    const label = labelled("label", option.label, { htmlFor: id });
    wrap.append(input, label);
    options.append(wrap);
  });
  fieldset.append(options);
  const error = el("p", { className: "error", id: "selftest-error" }, { role: "alert" });
  const nav = el("div", { className: "selftest__nav" });
  nav.append(button("selftest.back", back, true), button(last ? "selftest.finish" : "selftest.next", null, false, "submit"));
  form.append(fieldset, error, nav);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    next(form, error);
  });
  render(labelled("h3", data.title, { className: "selftest__title" }), form, actions(button("selftest.cancel", cancel, true)));
  legend.focus();
}

function remember(form) {
  const checked = form.querySelector("input:checked");
  if (checked) test.chosen[test.index] = Number(checked.value);
  return checked;
}

function next(form, error) {
  if (!remember(form)) {
    i18n.text(error, "selftest.pick");
    form.querySelector("input")?.focus();
    return;
  }
  const to = nextIndex(test.index);
  test.path.push(test.index);
  if (to >= test.data.items.length) return finish();
  test.index = to;
  question();
}

function back() {
  const form = ui.body.querySelector("form");
  if (form) remember(form);
  if (test.path.length === 0) return choose().then(() => ui.heading.focus());
  test.index = test.path.pop();
  question();
}

const scoreOf = (i) => test.data.items[i].options[test.chosen[i]]?.score;

// The published skip rules (AUDIT: "Never" on item 1, or 0 on both items 2 and 3: go on at item 9).
// A rule applies after the last of its items, when all of them were answered and scored 0; the
// items skipped are sent as 0, as the instrument scores them.
function nextIndex(i) {
  for (const rule of test.data.skips ?? []) {
    const items = rule.when_zero.map((n) => n - 1);
    if (Math.max(...items) !== i) continue;
    if (items.every((j) => (j === i || test.path.includes(j)) && scoreOf(j) === 0)) return rule.to - 1;
  }
  return i + 1;
}

function finish() {
  const { data, path, chosen } = test;
  const answers = data.items.map((item, i) => (path.includes(i) ? item.options[chosen[i]].score : 0));
  sent = { type: "screening", instrument: data.id, answers };
  transmit();
}

function transmit() {
  clearTimeout(timer);
  render();
  setLive(keyed("p", "selftest.sending", undefined, { className: "note" }));
  ui.heading.focus(); // the buttons are gone: keep the focus in the panel
  ui.send(sent);
  timer = setTimeout(() => showFailure("timeout"), SEND_TIMEOUT_MS);
}

function titleOf(instrument) {
  return test?.data.id === instrument ? test.data.title : { sv: instrument.toUpperCase(), en: instrument.toUpperCase() };
}

// The server's `screening_result` frame.
export function result(frame) {
  if (!ui || !sent) return;
  clearTimeout(timer);
  sent = null;
  render();
  const score = el("p", { className: "selftest__score" });
  score.append(labelled("span", titleOf(frame.instrument)), ": ",
    keyed("strong", "selftest.score", { score: frame.score, max: frame.max_score }));
  const nodes = [keyed("h3", "selftest.resultHeading"), score];
  if (frame.explanation) nodes.push(labelled("p", frame.explanation, { className: "selftest__explanation" }));
  nodes.push(keyed("p", "selftest.seen", undefined, { className: "hint" }));
  setLive(...nodes);
  const others = ui.instruments.filter((id) => id !== frame.instrument);
  if (others.length) render(actions(button("selftest.another", () => choose().then(() => ui.heading.focus()), true)));
}

// An `error` frame answering the `screening` frame (invalid_answers, unsupported, rate_limited).
export function failed(frame) {
  if (!ui || !sent) return;
  clearTimeout(timer);
  showFailure(frame.code);
}

function showFailure(code) {
  setLive();
  let message = "selftest.failedSend";
  let retry = button("selftest.sendAgain", transmit);
  if (code === "invalid_answers") {
    message = "selftest.failedAnswers";
    retry = button("selftest.answerAgain", () => begin(test.data, test.chosen));
  } else if (code === "unsupported") {
    message = "selftest.failedUnsupported";
    ui.instruments = ui.instruments.filter((id) => id !== sent.instrument);
    retry = ui.instruments.length ? button("selftest.chooseOther", () => choose().then(() => ui.heading.focus())) : null;
  } else if (code === "self_test_not_for_you") {
    message = "selftest.notForYou"; // the tests are about one's own use: nothing to try again
    ui.instruments = [];
    retry = null;
  }
  if (code !== "timeout" && code !== "rate_limited" && code !== "unavailable" && code !== "internal") sent = null;
  const row = actions(...[retry, button("selftest.cancel", cancel, true)].filter(Boolean));
  render(keyed("p", message, undefined, { className: "error" }, { role: "alert" }), row);
  row.querySelector("button").focus();
}

function cancel() {
  clearTimeout(timer);
  test = null;
  sent = null;
  setLive();
  const note = keyed("p", "selftest.cancelled", undefined, { tabIndex: -1 });
  render(note, actions(button("selftest.restart", () => choose().then(() => ui.heading.focus()))));
  note.focus();
}
