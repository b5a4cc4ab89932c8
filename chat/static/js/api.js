// api.js — JSON requests to /api/v1: the staff CSRF header on state-changing calls, and the error
// code out of {"error": {"code", "message"}} so a page can show its own sentence for it.

let csrf = null;

// The token from login or /staff/me; null forgets it.
export function setCsrf(token) {
  csrf = token;
}

// Never throws: {ok, status, data, code}; code is null on success, "network" when nothing answered.
export async function request(method, path, body, extra = {}) {
  const headers = { ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf;
  try {
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    return { ok: res.ok, status: res.status, data, code: res.ok ? null : (data?.error?.code ?? "generic") };
  } catch {
    return { ok: false, status: 0, data: {}, code: "network" };
  }
}

export const get = (path) => request("GET", path);
export const post = (path, body = {}, extra = {}) => request("POST", path, body, extra);
