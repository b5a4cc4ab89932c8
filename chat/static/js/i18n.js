// i18n.js — the page's language: Swedish unless the browser prefers English, switchable; strings
// come from /static/i18n/<lang>.json. Elements carry their key (data-i18n) or the server's
// {sv, en} labels (data-i18n-labels), so a switch re-translates the whole page in place.

// Adding a language is adding /static/i18n/<code>.json: the browser's languages are tried in order,
// and a file that is not there (404) is skipped. Swedish is the fallback; the switch toggles to and from it.
const KEY = "mm.lang"; // sessionStorage only: nothing about the visit outlives the tab
let lang = "sv";
let strings = {};
const listeners = [];

function wanted() {
  const saved = sessionStorage.getItem(KEY);
  const tags = [saved, ...(navigator.languages || [navigator.language || ""])].filter(Boolean);
  const codes = tags.map((tag) => tag.slice(0, 2).toLowerCase()).filter((c) => /^[a-z]{2}$/.test(c));
  return [...new Set([...codes, "sv"])];
}

export function current() {
  return lang;
}

export async function init() {
  for (const code of wanted()) {
    try {
      return await use(code);
    } catch {
      // no such language file: try the next one
    }
  }
}

// remember: the person chose it (kept for this tab only), rather than the browser's preference.
export async function use(next, remember = false) {
  // Remembered at once, before the strings arrive: a reload right after the click keeps the choice.
  // A language whose file then fails to load is skipped by init() on the next load.
  if (remember) sessionStorage.setItem(KEY, next);
  const res = await fetch(`/static/i18n/${next}.json`);
  if (!res.ok) throw new Error(`i18n: ${next}.json answered ${res.status}`);
  strings = await res.json();
  lang = next;
  document.documentElement.lang = next;
  apply(document);
  for (const fn of listeners) fn(lang);
}

export function onChange(fn) {
  listeners.push(fn);
}

// The switch names the other language, in that language.
export function bindSwitch(button) {
  const show = () => button.setAttribute("lang", lang === "sv" ? "en" : "sv");
  show();
  onChange(show);
  button.addEventListener("click", () => use(lang === "sv" ? "en" : "sv", true).catch(() => {}));
}

// Counts take the plural form of the language: "{count} {count#one:ny|other:nya}" reads "1 ny", "2 nya"
// (Intl.PluralRules names the form: "one" or "other" in Swedish and English; "other" is the fallback).
function plural(vars, k, forms) {
  if (!(k in vars)) return null;
  const choices = Object.fromEntries(forms.split("|").map((f) => [f.slice(0, f.indexOf(":")), f.slice(f.indexOf(":") + 1)]));
  const form = new Intl.PluralRules(lang).select(Number(vars[k]));
  return choices[form] ?? choices.other ?? "";
}

export function t(key, vars) {
  const s = strings[key] ?? key;
  if (!vars) return s;
  return s.replace(/\{(\w+)#([^}]*)\}/g, (m, k, forms) => plural(vars, k, forms) ?? m)
    .replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

// Sets an element's text from a key (and remembers the key for the next switch).
export function text(el, key, vars) {
  el.dataset.i18n = key;
  if (vars) el.dataset.i18nVars = JSON.stringify(vars);
  else delete el.dataset.i18nVars;
  el.textContent = t(key, vars);
  return el;
}

// Server labels arrive as {sv: "...", en: "..."}.
export function pick(labels) {
  if (typeof labels === "string") return labels;
  return labels?.[lang] ?? labels?.sv ?? "";
}

export function label(el, labels) {
  el.dataset.i18nLabels = JSON.stringify(labels);
  el.textContent = pick(labels);
  return el;
}

export function apply(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const vars = el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : undefined;
    el.textContent = t(el.dataset.i18n, vars);
  }
  for (const el of root.querySelectorAll("[data-i18n-labels]")) {
    el.textContent = pick(JSON.parse(el.dataset.i18nLabels));
  }
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
}

// The key for an error code from the server (HTTP or frame): its own sentence, or a general one.
export function errorKey(code) {
  return `error.${code}` in strings ? `error.${code}` : "error.generic";
}
