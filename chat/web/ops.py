"""Operations: liveness, readiness (database and bus), the OpenAPI schema."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chat.store.db import ping
from chat.web.auth import context
from chat.web.errors import NO_STORE
from chat.web.openapi import schema


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> Response:
    ctx = context(request)
    db_ok = await ping(ctx.engine)
    bus_ok = await ctx.bus.ping()
    ready = db_ok and bus_ok and not request.app.state.draining
    body = {"status": "ready" if ready else "unavailable", "database": db_ok, "bus": bus_ok}
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)


async def openapi(_request: Request) -> Response:
    return JSONResponse(schema())
