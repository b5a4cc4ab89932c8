"""The Bus protocol and the local fan-out both backends share.

A handler is called with ``(channel, payload)`` for each event, and with ``(channel, None)`` when the
backend may have missed events on that channel (Redis reconnected): the subscriber then catches up from
the store. Handlers run on the event loop and must not block: they enqueue and return.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

Handler = Callable[[str, bytes | None], None]


class Bus(Protocol):
    name: str

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, channel: str, payload: bytes) -> None: ...
    async def subscribe(self, channel: str, handler: Handler) -> None: ...
    async def unsubscribe(self, channel: str, handler: Handler) -> None: ...
    async def ping(self) -> bool: ...
    async def hit(self, key: str, ttl_s: int) -> int:
        """Increment a counter that expires ``ttl_s`` after its first hit; returns the new count. Raises
        ConnectionError (or TimeoutError) when the counter cannot be reached: callers refuse, never skip."""
        ...

    async def shared_secret(self, name: str, candidate: bytes, ttl_s: int) -> bytes:
        """The secret every instance shares under ``name``: ``candidate`` if none is set yet (it is then set,
        expiring ``ttl_s`` from now), else the one already set. Raises ConnectionError when unreachable."""
        ...

    async def put_ephemeral(self, namespace: str, key: str, value: bytes, ttl_s: int) -> None:
        """Store a value every instance can read until it expires ``ttl_s`` from now (presence)."""
        ...

    async def drop_ephemeral(self, namespace: str, key: str) -> None: ...

    async def scan_ephemeral(self, namespace: str) -> dict[str, bytes]:
        """Every unexpired value in ``namespace``, by key."""
        ...


class Fanout:
    """Channel → local handlers; what both backends use to deliver to this process's sockets."""

    def __init__(self) -> None:
        self._handlers: dict[str, set[Handler]] = defaultdict(set)

    def add(self, channel: str, handler: Handler) -> bool:
        """Register; True if this is the channel's first local handler."""
        first = channel not in self._handlers or not self._handlers[channel]
        self._handlers[channel].add(handler)
        return first

    def remove(self, channel: str, handler: Handler) -> bool:
        """Unregister; True if the channel has no local handlers left."""
        handlers = self._handlers.get(channel)
        if handlers is None:
            return False
        handlers.discard(handler)
        if not handlers:
            del self._handlers[channel]
            return True
        return False

    def channels(self) -> list[str]:
        return list(self._handlers)

    def dispatch(self, channel: str, payload: bytes | None) -> None:
        for handler in list(self._handlers.get(channel, ())):
            handler(channel, payload)
