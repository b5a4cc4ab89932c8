"""Operations: liveness, readiness (database, bus, key file), Prometheus metrics, the OpenAPI schema."""

from __future__ import annotations

import asyncio
import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chat.errors import Code
from chat.metrics import CONTENT_TYPE
from chat.service import gauges, readiness
from chat.web.auth import context
from chat.web.errors import NO_STORE, error_response
from chat.web.openapi import schema


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> Response:
    """200 when every dependency answers; else 503, naming which one does not (an orchestrator reads the status,
    a person the body)."""
    found = await readiness.check(context(request))
    draining = bool(request.app.state.draining)
    ready = found.ok and not draining
    body = {"status": "ready" if ready else "unavailable", "database": found.database, "bus": found.bus,
            "keys": found.keys, "draining": draining}
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Constant time: how far a guess matched must not show in the answer's timing.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics(request: Request) -> Response:
    """The Prometheus text format, only for ``Authorization: Bearer <MINIMARIA_METRICS_TOKEN>``; without a
    token configured the route does not exist (404)."""
    ctx = context(request)
    token = ctx.settings.metrics_token
    if token is None:
        return error_response(404, Code.NOT_FOUND, "No such path.")
    if not _bearer_matches(request, token):
        return error_response(401, Code.UNAUTHORIZED, "The metrics token is missing or wrong.",
                              {"WWW-Authenticate": 'Bearer realm="metrics"'})
    scraped = await gauges.scrape(ctx)
    body = await asyncio.to_thread(ctx.metrics.exposition, scraped)  # multi-process mode reads files
    return Response(body, media_type=CONTENT_TYPE, headers=NO_STORE)


async def openapi(_request: Request) -> Response:
    return JSONResponse(schema())
