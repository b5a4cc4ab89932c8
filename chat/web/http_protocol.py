"""The HTTP/1.1 protocol uvicorn runs for us: its h11 one with a deadline for request headers.

uvicorn times out idle keep-alive connections, but not a connection that sends part of a request's headers
and then nothing (slowloris): each such connection held a descriptor for ever, and a thousand of them were
all still open after 45 s. Here every request's headers must be complete within ``timeout_s`` of the
connection opening or of the request's first byte; otherwise the connection is closed without an answer.

Every connection also gets TCP_NODELAY. uvicorn writes a response's head and body in two ``send()`` calls;
without it, Nagle holds the body back until the client acknowledges the head, which a client with delayed
ACK does only ~40 ms later: every request on a reused keep-alive connection took ~50 ms instead of ~3 ms
(bench/keepalive.py). asyncio sets the option itself only on connections whose listening socket says
``proto=IPPROTO_TCP``: true when uvicorn binds host:port itself (``minimaria serve``), not for a plain
``socket.socket()`` handed to ``Server.serve(sockets=...)`` (the test server) nor for uvicorn's ``--fd``
(which labels the inherited socket AF_UNIX, proto 0), as under socket activation.
"""

from __future__ import annotations

import asyncio
import socket

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderDeadlineProtocol(H11Protocol):
    header_timeout_s = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _no_delay(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._deadline is None:
                self._arm()  # the first bytes of a (next) request: its headers have until the deadline
        else:
            self._disarm()  # the headers are complete (or the connection has ended)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def _no_delay(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not TCP (a Unix socket), or the peer is already gone


def with_header_timeout(timeout_s: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for uvicorn's ``http`` setting, with this deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout_s": timeout_s})
