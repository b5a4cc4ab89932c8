"""ChatError → ``{"error": {"code", "message"}}`` with its status; anything unexpected → 500 internal."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chat import logs
from chat.errors import ChatError, Code
from chat.service import faults

NO_STORE = {"Cache-Control": "no-store"}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers={**NO_STORE, **(headers or {})}
    )


async def chat_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChatError)
    retry_after = getattr(exc, "retry_after_s", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return error_response(exc.status, exc.code, exc.message, headers)


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: Code.NOT_FOUND, 405: Code.METHOD_NOT_ALLOWED}.get(exc.status_code, Code.INVALID)
    message = {404: "No such path.", 405: "That method is not allowed here."}.get(exc.status_code, "Bad request.")
    return error_response(exc.status_code, code, message)


def _route(request: Request) -> str:
    """The route template (``/api/v1/conversations/{id}/…``), never the raw path a client sent."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


async def unavailable(request: Request, exc: Exception) -> Response:
    logs.event("unavailable", level=30, route=_route(request), error=type(exc).__name__)
    return error_response(503, Code.UNAVAILABLE, "The service is unavailable right now; try again shortly.")


async def internal_error(request: Request, exc: Exception) -> Response:
    logs.event("internal_error", level=40, route=_route(request), error=type(exc).__name__)
    return error_response(500, Code.INTERNAL, "Something went wrong on our side; try again.")


# The database or bus being away is a transient condition, not a bug: 503 so clients retry.
HANDLERS = {
    ChatError: chat_error,
    HTTPException: http_error,
    **dict.fromkeys(faults.UNAVAILABLE, unavailable),
    Exception: internal_error,
}
