"""Administration HTTP (role admin): staff accounts, opening-hours overrides, the audit log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chat.errors import BadInput, Code, NotFound
from chat.service import hours_overrides, staff_admin
from chat.service.access import Principal
from chat.web import frames
from chat.web.auth import context
from chat.web.errors import NO_STORE


def path_id(request: Request) -> int:
    """A numeric id from the path; anything else names nothing."""
    raw = request.path_params["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise NotFound()
    return int(raw)


async def list_staff(request: Request, p: Principal) -> Response:
    return JSONResponse({"staff": await staff_admin.listed(context(request), p)}, headers=NO_STORE)


async def create_staff(request: Request, p: Principal) -> Response:
    body = frames.parse_body(await request.body(), frames.StaffCreateBody)
    made = await staff_admin.create(context(request), p, body.username, body.display_name, body.password,
                                    list(body.roles), list(body.teams))
    return JSONResponse(made, status_code=201, headers=NO_STORE)


async def change_staff(request: Request, p: Principal) -> Response:
    body = frames.parse_body(await request.body(), frames.StaffChangeBody)
    changed = await staff_admin.change(
        context(request), p, request.path_params["username"], display_name=body.display_name,
        roles=None if body.roles is None else list(body.roles), teams=None if body.teams is None else list(body.teams),
        active=body.active,
    )
    return JSONResponse(changed, headers=NO_STORE)


async def reset_password(request: Request, p: Principal) -> Response:
    body = frames.parse_body(await request.body(), frames.PasswordBody)
    await staff_admin.reset_password(context(request), p, request.path_params["username"], body.password)
    return JSONResponse({"ok": True}, headers=NO_STORE)


async def list_hours(request: Request, p: Principal) -> Response:
    return JSONResponse(await hours_overrides.listed(context(request), p), headers=NO_STORE)


async def add_hours(request: Request, p: Principal) -> Response:
    body = frames.parse_body(await request.body(), frames.HoursOverrideBody)
    made = await hours_overrides.add(context(request), p, body.date, body.team, list(body.spans), body.label)
    return JSONResponse(made, status_code=201, headers=NO_STORE)


async def remove_hours(request: Request, p: Principal) -> Response:
    await hours_overrides.remove(context(request), p, path_id(request))
    return JSONResponse({"ok": True}, headers=NO_STORE)


async def audit(request: Request, p: Principal) -> Response:
    raw = request.query_params.get("limit", "100")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        raise BadInput(Code.INVALID, "limit must be a whole number between 1 and 1000.")
    return JSONResponse(await staff_admin.audit_page(context(request), p, int(raw)), headers=NO_STORE)
