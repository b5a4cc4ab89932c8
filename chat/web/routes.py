"""The route table. Every staff and admin route is a ``Door`` naming its action in the access table
(``chat/service/access.py``); the rest are public (pages, visitor API, probes) or authenticate on their own
(login, the sockets, ``/metrics`` with its bearer token)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from chat.service.access import Action as A
from chat.web import admin, canned, ops, sockets, staff, visitor
from chat.web.auth import Door

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGE_HEADERS = {"Cache-Control": "no-store"}


def _page(file: str) -> Callable[[Request], Awaitable[Response]]:
    async def page(_request: Request) -> Response:
        return FileResponse(STATIC / file, headers=PAGE_HEADERS)
    return page


def routes() -> list[BaseRoute]:
    return [
        Route("/", _page("visitor.html")),
        Route("/staff", _page("staff.html")),
        Route("/staff/supervisor", _page("supervisor.html")),
        Route("/staff/admin", _page("admin.html")),
        Route("/healthz", ops.healthz),
        Route("/readyz", ops.readyz),
        Route("/metrics", ops.metrics),  # its own bearer token (MINIMARIA_METRICS_TOKEN), no staff session
        Route("/openapi.json", ops.openapi),
        Route("/api/v1/intake", visitor.get_intake),
        Route("/api/v1/conversations", visitor.start, methods=["POST"]),
        Route("/api/v1/conversations/{id}/feedback", visitor.feedback, methods=["POST"]),
        Route("/api/v1/conversations/{id}/close", visitor.close, methods=["POST"]),
        Route("/api/v1/visitor/forget", visitor.forget, methods=["POST"]),
        Route("/api/v1/staff/login", staff.login, methods=["POST"]),
        Door("/api/v1/staff/logout", staff.logout, A.SESSION, methods=["POST"]),
        Door("/api/v1/staff/me", staff.me, A.SESSION),
        Door("/api/v1/staff/queue", staff.get_queue, A.QUEUE_READ),
        Door("/api/v1/staff/conversations/{id}/claim", staff.claim, A.CLAIM, methods=["POST"]),
        Door("/api/v1/staff/teams", staff.teams, A.TEAMS),
        Door("/api/v1/staff/presence", staff.presence, A.PRESENCE),
        Door("/api/v1/staff/conversations/{id}/accept", staff.accept, A.ACCEPT, methods=["POST"]),
        Door("/api/v1/staff/conversations/{id}/decline", staff.decline, A.DECLINE, methods=["POST"]),
        Door("/api/v1/staff/conversations/{id}/transfer", staff.transfer, A.TRANSFER, methods=["POST"]),
        Door("/api/v1/staff/conversations/{id}/close", staff.close, A.CLOSE, methods=["POST"]),
        Door("/api/v1/staff/conversations/{id}/notes", staff.add_note, A.NOTE_ADD, methods=["POST"]),
        Door("/api/v1/staff/conversations/{id}/notes", staff.notes, A.NOTES_READ, methods=["GET"]),
        Door("/api/v1/staff/conversations/{id}/transcript", staff.transcript, A.TRANSCRIPT_READ),
        Door("/api/v1/staff/conversations/{id}/concerns", staff.report_concern, A.CONCERN_REPORT, methods=["POST"]),
        Door("/api/v1/staff/conversations/{id}/concerns", staff.list_concerns, A.CONCERN_LIST, methods=["GET"]),
        Door("/api/v1/staff/canned", canned.listed, A.CANNED_READ, methods=["GET"]),
        Door("/api/v1/staff/canned", canned.add, A.CANNED_EDIT, methods=["POST"]),
        Door("/api/v1/staff/canned/{id}", canned.change, A.CANNED_EDIT, methods=["PUT"]),
        Door("/api/v1/staff/canned/{id}", canned.remove, A.CANNED_EDIT, methods=["DELETE"]),
        Door("/api/v1/admin/staff", admin.list_staff, A.STAFF_LIST, methods=["GET"]),
        Door("/api/v1/admin/staff", admin.create_staff, A.STAFF_CREATE, methods=["POST"]),
        Door("/api/v1/admin/staff/{username}", admin.change_staff, A.STAFF_CHANGE, methods=["PATCH"]),
        Door("/api/v1/admin/staff/{username}/password", admin.reset_password, A.STAFF_PASSWORD, methods=["POST"]),
        Door("/api/v1/admin/hours", admin.list_hours, A.HOURS_LIST, methods=["GET"]),
        Door("/api/v1/admin/hours", admin.add_hours, A.HOURS_ADD, methods=["POST"]),
        Door("/api/v1/admin/hours/{id}", admin.remove_hours, A.HOURS_REMOVE, methods=["DELETE"]),
        Door("/api/v1/admin/audit", admin.audit, A.AUDIT_READ, methods=["GET"]),
        Door("/api/v1/staff/conversations/{id}/earlier", staff.earlier, A.EARLIER_LIST),
        Door("/api/v1/staff/conversations/{id}/earlier/{part}", staff.earlier_part, A.EARLIER_READ),
        Door("/api/v1/staff/conversations/{id}/reassign", staff.reassign, A.REASSIGN, methods=["POST"]),
        Door("/api/v1/staff/outcomes", staff.outcomes_list, A.OUTCOMES),
        Door("/api/v1/staff/crisis", staff.crisis, A.CRISIS_LINES),
        Door("/api/v1/staff/overview", staff.overview, A.OVERVIEW),
        WebSocketRoute("/ws/visitor", sockets.visitor_endpoint),
        WebSocketRoute("/ws/staff", sockets.staff_endpoint),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
