"""Who is asking: the staff session cookie, its CSRF token, the Origin allowlist, the visitor's bearer token;
and the door every staff route goes through (``Door``: who, then whether the access table lets them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route

from chat.errors import Code, Forbidden, Unauthorized
from chat.service import access, accounts
from chat.service.access import Action, Principal
from chat.service.context import Context

COOKIE = "mm_staff"
CSRF_HEADER = "x-csrf-token"


def context(conn: HTTPConnection) -> Context:
    ctx: Context = conn.app.state.ctx
    return ctx


def session_token(conn: HTTPConnection) -> str | None:
    return conn.cookies.get(COOKIE)


def check_origin(conn: HTTPConnection) -> None:
    """Exact Origin match; Starlette does not check it for WebSockets, browsers always send it."""
    if not context(conn).settings.origin_allowed(conn.headers.get("origin"), conn.headers.get("host")):
        raise Forbidden(Code.ORIGIN_FORBIDDEN, "This origin may not use the staff API.")


async def staff(request: Request) -> Principal:
    """The logged-in staff member; state-changing requests also need the CSRF header."""
    token = session_token(request)
    principal = await accounts.authenticate(context(request), token)
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        sent = request.headers.get(CSRF_HEADER, "")
        assert token is not None
        if not accounts.csrf_ok(token, sent):
            raise Forbidden(Code.CSRF_FAILED, "The CSRF token is missing or wrong; reload the page.")
    return principal


def bearer(request: Request) -> str:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(Code.UNAUTHORIZED, "A visitor token is required (Authorization: Bearer …).")
    return token.strip()


Handler = Callable[[Request, Principal], Awaitable[Response]]


class Door(Route):
    """A staff or admin route that names its action: the caller is authenticated (with CSRF for a change)
    and the access table consulted (``access.require``) before the handler runs, with the person it found.
    The handler's service then checks the scope against the conversation or team it is about."""

    def __init__(self, path: str, handler: Handler, action: Action, methods: list[str] | None = None) -> None:
        self.action = action

        async def endpoint(request: Request) -> Response:
            p = await staff(request)
            access.require(p, action)
            return await handler(request, p)

        endpoint.__name__ = handler.__name__
        super().__init__(path, endpoint, methods=methods)
