"""Visitor HTTP: the intake choices, starting a conversation, feedback."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chat.service import conversations, handoff, intake, queue
from chat.web import frames
from chat.web.auth import bearer, context
from chat.web.errors import NO_STORE


async def get_intake(request: Request) -> Response:
    return JSONResponse(intake.choices(context(request)), headers=NO_STORE)


async def start(request: Request) -> Response:
    ctx = context(request)
    body = frames.parse_body(await request.body(), frames.StartBody)
    # The client's address (behind MINIMARIA_TRUSTED_PROXIES: the one they forwarded) is only ever hashed.
    client = request.client.host if request.client else "unknown"  # a visitor is always counted
    if body.return_code:
        started = await handoff.resume(ctx, body.return_code, client)
    else:
        started = await conversations.start(
            ctx,
            conversations.StartRequest(
                role=body.role, municipality=body.municipality, topic=body.topic, age_band=body.age_band,
                gender=body.gender, language=body.language,
            ),
            client,
        )
    place = await queue.place(ctx, started.conversation.id) or queue.Place(0, 0)
    out = frames.StartedBody(
        conversation_id=started.conversation.id,
        visitor_token=started.visitor_token,
        return_code=started.return_code,
        queue=frames.QueueInfo(position=place.position, estimated_wait_s=place.estimated_wait_s),
        state=started.conversation.state,
        reopened=started.reopened,
    )
    return JSONResponse(out.model_dump(), status_code=201, headers=NO_STORE)


# Quick exit: the browser drops everything this origin stored (the page has cleared its own storage
# already; this covers anything else, e.g. caches) and the token stops working.
FORGET_HEADERS = {**NO_STORE, "Clear-Site-Data": '"cache", "storage"'}


async def forget(request: Request) -> Response:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    await conversations.forget(context(request), token.strip() if scheme.lower() == "bearer" else None)
    return Response(status_code=204, headers=FORGET_HEADERS)


async def close(request: Request) -> Response:
    token = bearer(request)
    await conversations.visitor_close(context(request), token, request.path_params["id"])
    return JSONResponse({"ok": True}, headers=NO_STORE)


async def feedback(request: Request) -> Response:
    token = bearer(request)
    body = frames.parse_body(await request.body(), frames.FeedbackBody)
    await conversations.feedback(context(request), token, request.path_params["id"], body.rating, body.comment)
    return JSONResponse({"ok": True}, status_code=201, headers=NO_STORE)
