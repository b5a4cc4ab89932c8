"""ChatError → ``{"error": {"code", "message"}}`` with its status; anything unexpected → 500 internal."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chat import logs
from chat.errors import ChatError, Code

NO_STORE = {"Cache-Control": "no-store"}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=NO_STORE)


async def chat_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChatError)
    return error_response(exc.status, exc.code, exc.message)


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: Code.NOT_FOUND, 405: "method_not_allowed"}.get(exc.status_code, Code.INVALID)
    message = {404: "No such path.", 405: "That method is not allowed here."}.get(exc.status_code, "Bad request.")
    return error_response(exc.status_code, code, message)


async def internal_error(request: Request, exc: Exception) -> Response:
    logs.event("internal_error", level=40, route=request.url.path, error=type(exc).__name__)
    return error_response(500, Code.INTERNAL, "Something went wrong on our side; try again.")


HANDLERS = {ChatError: chat_error, HTTPException: http_error, Exception: internal_error}
