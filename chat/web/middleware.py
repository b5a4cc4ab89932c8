"""ASGI middleware: one log line per HTTP request (allow-listed fields only) and the security headers."""

from __future__ import annotations

import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat import logs

# No inline script or style anywhere; nothing from other origins.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "cross-origin-opener-policy": "same-origin",
}
# Sent only when the service says it is served over HTTPS (MINIMARIA_SECURE_COOKIES=true): browsers then
# refuse plain HTTP to this host for a year, so a network attacker cannot strip TLS on a later visit.
HSTS = {"strict-transport-security": "max-age=31536000; includeSubDomains"}


class AccessLog:
    """Logs route template, method, status and duration: never the query, client address or headers."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.headers = {**HEADERS, **HSTS} if hsts else HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def send_wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for key, value in self.headers.items():
                    headers.setdefault(key, value)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapped)
        finally:
            route = scope.get("route")
            logs.event(
                "http", method=scope["method"], route=getattr(route, "path", "unmatched"), status=status,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
            )
