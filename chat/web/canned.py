"""Canned answers HTTP: a person's teams' answers; changes by a lead of the team or an admin."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chat.service import canned
from chat.service.access import Principal
from chat.web import frames
from chat.web.admin import path_id
from chat.web.auth import context
from chat.web.errors import NO_STORE


async def listed(request: Request, p: Principal) -> Response:
    return JSONResponse(await canned.listed(context(request), p), headers=NO_STORE)


async def add(request: Request, p: Principal) -> Response:
    body = frames.parse_body(await request.body(), frames.CannedBody)
    made = await canned.add(context(request), p, body.team, body.language, body.title, body.body)
    return JSONResponse(made, status_code=201, headers=NO_STORE)


async def change(request: Request, p: Principal) -> Response:
    body = frames.parse_body(await request.body(), frames.CannedChangeBody)
    changed = await canned.change(context(request), p, path_id(request), body.language, body.title, body.body)
    return JSONResponse(changed, headers=NO_STORE)


async def remove(request: Request, p: Principal) -> Response:
    await canned.remove(context(request), p, path_id(request))
    return JSONResponse({"ok": True}, headers=NO_STORE)
