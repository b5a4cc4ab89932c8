"""The OpenAPI document of the HTTP API, built from the same pydantic bodies the handlers parse."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from chat.web import frames

# (method, path, summary, request body, success status, response body)
OPERATIONS: list[tuple[str, str, str, type[BaseModel] | None, int, type[BaseModel] | None]] = [
    ("get", "/api/v1/intake", "Choices for the start form, opening state and crisis resources", None, 200, None),
    ("post", "/api/v1/conversations", "Start an anonymous conversation, or return with a return code", frames.StartBody,
     201, frames.StartedBody),
    ("post", "/api/v1/conversations/{id}/feedback", "Visitor feedback (Bearer visitor token)", frames.FeedbackBody, 201, None),
    ("post", "/api/v1/conversations/{id}/close", "The visitor ends the conversation (Bearer visitor token)", None, 200,
     None),
    ("post", "/api/v1/visitor/forget", "Quick exit: Clear-Site-Data, and the Bearer visitor token (if sent) ends",
     None, 204, None),
    ("post", "/api/v1/staff/login", "Staff login; sets the session cookie", frames.LoginBody, 200, None),
    ("post", "/api/v1/staff/logout", "Staff logout; closes this session's sockets", None, 200, None),
    ("get", "/api/v1/staff/me", "The logged-in staff member and the CSRF token", None, 200, None),
    ("get", "/api/v1/staff/queue", "Waiting conversations this person may take", None, 200, None),
    ("get", "/api/v1/staff/teams", "Every team: open now, online, available, waiting", None, 200, None),
    ("get", "/api/v1/staff/presence", "Online staff with status and load", None, 200, None),
    ("post", "/api/v1/staff/conversations/{id}/claim", "Claim; 409 already_claimed or offered_elsewhere", None, 200, None),
    ("post", "/api/v1/staff/conversations/{id}/accept", "Accept an offer; 409 offer_ended", None, 200, None),
    ("post", "/api/v1/staff/conversations/{id}/decline", "Decline an offer; it goes to the next person", None, 200, None),
    ("post", "/api/v1/staff/conversations/{id}/transfer", "Hand over to a team or a named counsellor with a note",
     frames.TransferBody, 200, None),
    ("post", "/api/v1/staff/conversations/{id}/close", "Close with an outcome", frames.CloseBody, 200, None),
    ("post", "/api/v1/staff/conversations/{id}/notes", "Add an internal note", frames.NoteBody, 201, None),
    ("get", "/api/v1/staff/conversations/{id}/notes", "Internal and hand-over notes (holder or supervisor)", None, 200, None),
    ("get", "/api/v1/staff/conversations/{id}/transcript", "Transcript; every call is audited", None, 200, None),
    ("post", "/api/v1/staff/conversations/{id}/concerns", "Record a concern report (SoL 14 kap. 1 §); audited",
     frames.ConcernBody, 201, None),
    ("get", "/api/v1/staff/conversations/{id}/concerns", "Concern reports of a conversation (holder or supervisor)",
     None, 200, None),
    ("get", "/api/v1/staff/conversations/{id}/earlier",
     "Earlier, closed parts of a conversation a return code re-opened (metadata only)", None, 200, None),
    ("get", "/api/v1/staff/conversations/{id}/earlier/{part}", "One earlier part's messages and notes; audited",
     None, 200, None),
    ("post", "/api/v1/staff/conversations/{id}/reassign",
     "Supervisor: a waiting or active conversation to a team or a named counsellor", frames.TransferBody, 200, None),
    ("get", "/api/v1/staff/outcomes", "The close outcomes, in order, in Swedish and English", None, 200, None),
    ("get", "/api/v1/staff/crisis", "Crisis lines for a conversation's municipality (?municipality=CODE)", None, 200,
     None),
    ("get", "/api/v1/staff/overview", "Supervisor: every team's queue and longest wait, who is online with what load",
     None, 200, None),
    ("get", "/api/v1/staff/canned", "Canned answers of the person's teams (admin, supervisor: all) and the teams they "
     "may edit", None, 200, None),
    ("post", "/api/v1/staff/canned", "Lead of the team or admin: add a canned answer", frames.CannedBody, 201, None),
    ("put", "/api/v1/staff/canned/{id}", "Lead of the team or admin: change a canned answer", frames.CannedChangeBody,
     200, None),
    ("delete", "/api/v1/staff/canned/{id}", "Lead of the team or admin: remove a canned answer", None, 200, None),
    ("get", "/api/v1/admin/staff", "Admin: every staff account", None, 200, None),
    ("post", "/api/v1/admin/staff", "Admin: add a staff account", frames.StaffCreateBody, 201, None),
    ("patch", "/api/v1/admin/staff/{username}", "Admin: change an account; active=false ends its sessions and puts "
     "its conversations back in the queues", frames.StaffChangeBody, 200, None),
    ("post", "/api/v1/admin/staff/{username}/password", "Admin: set a new password; unlocks and ends its sessions",
     frames.PasswordBody, 200, None),
    ("get", "/api/v1/admin/hours", "Admin: dates with their own opening hours, and the teams", None, 200, None),
    ("post", "/api/v1/admin/hours", "Admin: a date with its own hours (team null: every team; spans []: closed); in "
     "effect at once on every instance; the answer lists the other overrides of that date it conflicts with, "
     "each with whether it applies", frames.HoursOverrideBody, 201, None),
    ("delete", "/api/v1/admin/hours/{id}", "Admin: remove a date's own hours", None, 200, None),
    ("get", "/api/v1/admin/audit", "Admin: the newest audit entries (?limit=N, default 100, at most 1000) and "
     "whether the whole hash chain verifies (chain: ok, entries, head_seq, first_broken)", None, 200, None),
    ("get", "/healthz", "Liveness", None, 200, None),
    ("get", "/readyz", "Readiness: database, bus and key file; 503 with {status, database, bus, keys, draining} "
     "naming what is down", None, 200, None),
    ("get", "/metrics", "Prometheus text format, only with Authorization: Bearer <MINIMARIA_METRICS_TOKEN>; "
     "404 when no token is configured", None, 200, None),
]


def _ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


@cache
def schema() -> dict[str, Any]:
    components: dict[str, Any] = {}
    error = {"description": "Refused", "content": {"application/json": {"schema": _ref(frames.ErrorBody, components)}}}
    paths: dict[str, Any] = {}
    for method, path, summary, body, status, out in OPERATIONS:
        op: dict[str, Any] = {"summary": summary, "responses": {"4XX": error}}
        ok: dict[str, Any] = {"description": "OK"}
        if out is not None:
            ok["content"] = {"application/json": {"schema": _ref(out, components)}}
        op["responses"][str(status)] = ok
        if body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body, components)}}}
        if "{id}" in path:
            op["parameters"] = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
        if "{part}" in path:
            op["parameters"].append({"name": "part", "in": "path", "required": True, "schema": {"type": "integer"}})
        if "{username}" in path:
            op["parameters"] = [{"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}]
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "minimaria-chat", "version": "1", "description": "See docs/protocol.md for the WebSocket frames."},
        "paths": paths,
        "components": {"schemas": components},
    }
