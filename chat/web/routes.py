"""The route table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from chat.web import admin, canned, ops, sockets, staff, visitor

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
        Route("/openapi.json", ops.openapi),
        Route("/api/v1/intake", visitor.get_intake),
        Route("/api/v1/conversations", visitor.start, methods=["POST"]),
        Route("/api/v1/conversations/{id}/feedback", visitor.feedback, methods=["POST"]),
        Route("/api/v1/conversations/{id}/close", visitor.close, methods=["POST"]),
        Route("/api/v1/visitor/forget", visitor.forget, methods=["POST"]),
        Route("/api/v1/staff/login", staff.login, methods=["POST"]),
        Route("/api/v1/staff/logout", staff.logout, methods=["POST"]),
        Route("/api/v1/staff/me", staff.me),
        Route("/api/v1/staff/queue", staff.get_queue),
        Route("/api/v1/staff/conversations/{id}/claim", staff.claim, methods=["POST"]),
        Route("/api/v1/staff/teams", staff.teams),
        Route("/api/v1/staff/presence", staff.presence),
        Route("/api/v1/staff/conversations/{id}/accept", staff.accept, methods=["POST"]),
        Route("/api/v1/staff/conversations/{id}/decline", staff.decline, methods=["POST"]),
        Route("/api/v1/staff/conversations/{id}/transfer", staff.transfer, methods=["POST"]),
        Route("/api/v1/staff/conversations/{id}/close", staff.close, methods=["POST"]),
        Route("/api/v1/staff/conversations/{id}/notes", staff.add_note, methods=["POST"]),
        Route("/api/v1/staff/conversations/{id}/notes", staff.notes, methods=["GET"]),
        Route("/api/v1/staff/conversations/{id}/transcript", staff.transcript),
        Route("/api/v1/staff/conversations/{id}/concerns", staff.report_concern, methods=["POST"]),
        Route("/api/v1/staff/conversations/{id}/concerns", staff.list_concerns, methods=["GET"]),
        Route("/api/v1/staff/canned", canned.listed, methods=["GET"]),
        Route("/api/v1/staff/canned", canned.add, methods=["POST"]),
        Route("/api/v1/staff/canned/{id}", canned.change, methods=["PUT"]),
        Route("/api/v1/staff/canned/{id}", canned.remove, methods=["DELETE"]),
        Route("/api/v1/admin/staff", admin.list_staff, methods=["GET"]),
        Route("/api/v1/admin/staff", admin.create_staff, methods=["POST"]),
        Route("/api/v1/admin/staff/{username}", admin.change_staff, methods=["PATCH"]),
        Route("/api/v1/admin/staff/{username}/password", admin.reset_password, methods=["POST"]),
        Route("/api/v1/admin/hours", admin.list_hours, methods=["GET"]),
        Route("/api/v1/admin/hours", admin.add_hours, methods=["POST"]),
        Route("/api/v1/admin/hours/{id}", admin.remove_hours, methods=["DELETE"]),
        Route("/api/v1/admin/audit", admin.audit, methods=["GET"]),
        Route("/api/v1/staff/conversations/{id}/earlier", staff.earlier),
        Route("/api/v1/staff/conversations/{id}/earlier/{part}", staff.earlier_part),
        Route("/api/v1/staff/conversations/{id}/reassign", staff.reassign, methods=["POST"]),
        Route("/api/v1/staff/outcomes", staff.outcomes_list),
        Route("/api/v1/staff/crisis", staff.crisis),
        Route("/api/v1/staff/overview", staff.overview),
        WebSocketRoute("/ws/visitor", sockets.visitor_endpoint),
        WebSocketRoute("/ws/staff", sockets.staff_endpoint),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
