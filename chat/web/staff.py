"""Staff HTTP: login, logout, me, queue, teams, presence, claim, accept/decline offers, transfer, close, notes,
transcript, earlier parts, concerns, outcomes, crisis lines; the supervisor's overview and reassign."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chat.errors import BadInput, Code
from chat.service import (
    access,
    accounts,
    concerns,
    conversations,
    handoff,
    login_guard,
    outcomes,
    queue,
    staffing,
    transcripts,
)
from chat.service.access import Principal
from chat.service.summaries import ConversationRecord
from chat.web import frames
from chat.web.auth import COOKIE, check_origin, context, session_token
from chat.web.errors import NO_STORE, error_response


def _me(p: Principal, csrf: str) -> dict[str, Any]:
    return {"username": p.username, "display_name": p.display_name, "roles": list(p.roles), "teams": list(p.teams),
            "no_team": access.lacks_team(p), "can": access.can(p), "csrf_token": csrf}


async def login(request: Request) -> Response:
    check_origin(request)
    ctx = context(request)
    body = frames.parse_body(await request.body(), frames.LoginBody)
    try:
        result = await accounts.login(ctx, body.username, body.password)
    except login_guard.Refused as refused:
        response = error_response(refused.status, refused.code, refused.message)
        response.headers["Retry-After"] = str(refused.retry_after_s)
        return response
    response = JSONResponse(_me(result.principal, result.csrf_token), headers=NO_STORE)
    response.set_cookie(
        COOKIE, result.session_token, max_age=ctx.settings.staff_session_hours * 3600, httponly=True,
        samesite="strict", secure=ctx.settings.secure_cookies, path="/",
    )
    return response


async def logout(request: Request, p: Principal) -> Response:
    token = session_token(request)
    assert token is not None
    await accounts.logout(context(request), token, p)
    response = JSONResponse({"ok": True}, headers=NO_STORE)
    response.delete_cookie(COOKIE, path="/")
    return response


async def me(request: Request, p: Principal) -> Response:
    token = session_token(request)
    assert token is not None
    return JSONResponse(_me(p, accounts.csrf_token(token)), headers=NO_STORE)


async def get_queue(request: Request, p: Principal) -> Response:
    waiting = await queue.staff_queue(context(request), p)
    return JSONResponse({"queue": [frames.summary(c, p.id) for c in waiting]}, headers=NO_STORE)


async def claim(request: Request, p: Principal) -> Response:
    conv = await queue.claim(context(request), p, request.path_params["id"])
    return JSONResponse(frames.summary(conv), headers=NO_STORE)


async def accept(request: Request, p: Principal) -> Response:
    conv = await queue.accept(context(request), p, request.path_params["id"])
    return JSONResponse(frames.summary(conv), headers=NO_STORE)


async def decline(request: Request, p: Principal) -> Response:
    await queue.decline(context(request), p, request.path_params["id"])
    return JSONResponse({"ok": True}, headers=NO_STORE)


async def transfer(request: Request, p: Principal) -> Response:
    return await _hand_on(request, p, handoff.transfer)


async def _hand_on(request: Request, p: Principal, how: Callable[..., Awaitable[ConversationRecord]]) -> Response:
    """Transfer (the holder) and reassign (a supervisor) take the same body and answer the same way."""
    body = frames.parse_body(await request.body(), frames.TransferBody)
    conv = await how(context(request), p, request.path_params["id"], team=body.team, staff=body.staff, note=body.note)
    return JSONResponse(frames.summary(conv), headers=NO_STORE)


async def teams(request: Request, p: Principal) -> Response:
    return JSONResponse({"teams": await staffing.teams(context(request), p)}, headers=NO_STORE)


async def presence(request: Request, p: Principal) -> Response:
    return JSONResponse({"online": await staffing.online(context(request), p)}, headers=NO_STORE)


async def notes(request: Request, p: Principal) -> Response:
    found = await transcripts.notes_for_holder(context(request), p, request.path_params["id"])
    return JSONResponse({"notes": found}, headers=NO_STORE)


async def close(request: Request, p: Principal) -> Response:
    body = frames.parse_body(await request.body(), frames.CloseBody)
    await conversations.close(context(request), p, request.path_params["id"], body.outcome)
    return JSONResponse({"ok": True}, headers=NO_STORE)


async def add_note(request: Request, p: Principal) -> Response:
    body = frames.parse_body(await request.body(), frames.NoteBody)
    await transcripts.add_note(context(request), p, request.path_params["id"], body.text)
    return JSONResponse({"ok": True}, status_code=201, headers=NO_STORE)


async def transcript(request: Request, p: Principal) -> Response:
    t = await transcripts.read(context(request), p, request.path_params["id"])
    return JSONResponse(t, headers=NO_STORE)


async def report_concern(request: Request, p: Principal) -> Response:
    body = frames.parse_body(await request.body(), frames.ConcernBody)
    made = await concerns.report(context(request), p, request.path_params["id"], body.note)
    return JSONResponse(made, status_code=201, headers=NO_STORE)


async def list_concerns(request: Request, p: Principal) -> Response:
    found = await concerns.list_for(context(request), p, request.path_params["id"])
    return JSONResponse({"concerns": found}, headers=NO_STORE)


async def outcomes_list(_request: Request, _p: Principal) -> Response:
    return JSONResponse({"outcomes": outcomes.listing()}, headers=NO_STORE)


async def crisis(request: Request, p: Principal) -> Response:
    municipality = request.query_params.get("municipality") or None
    return JSONResponse({"crisis": staffing.crisis(context(request), p, municipality)}, headers=NO_STORE)


async def earlier(request: Request, p: Principal) -> Response:
    found = await transcripts.earlier_parts(context(request), p, request.path_params["id"])
    return JSONResponse({"parts": found}, headers=NO_STORE)


async def earlier_part(request: Request, p: Principal) -> Response:
    part = request.path_params["part"]
    if not (part.isascii() and part.isdigit() and len(part) <= 6):
        raise BadInput(Code.INVALID, "The part is a number (from the earlier list).")
    t = await transcripts.read_part(context(request), p, request.path_params["id"], int(part))
    return JSONResponse(t, headers=NO_STORE)


async def reassign(request: Request, p: Principal) -> Response:
    return await _hand_on(request, p, handoff.reassign)


async def overview(request: Request, p: Principal) -> Response:
    return JSONResponse(await staffing.overview(context(request), p), headers=NO_STORE)
