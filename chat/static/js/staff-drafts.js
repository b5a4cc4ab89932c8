// staff-drafts.js — what the person has typed but not sent, per conversation, in sessionStorage: it
// survives a reload and a new login in the same tab, and is gone when the tab closes or the person logs out.

const PREFIX = "mm.staff.draft.";

export const get = (id) => sessionStorage.getItem(PREFIX + id) ?? "";

export function set(id, text) {
  if (text) sessionStorage.setItem(PREFIX + id, text);
  else sessionStorage.removeItem(PREFIX + id);
}

export function clearAll() {
  for (const key of Object.keys(sessionStorage)) if (key.startsWith(PREFIX)) sessionStorage.removeItem(key);
}
