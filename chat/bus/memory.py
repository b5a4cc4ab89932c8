"""The in-memory bus: one process, no network; events go straight to local handlers."""

from __future__ import annotations

import time

from chat.bus.base import Fanout, Handler


class MemoryBus:
    name = "memory"

    def __init__(self) -> None:
        self._fanout = Fanout()
        self._counters: dict[str, tuple[int, float]] = {}
        self._ephemeral: dict[str, dict[str, tuple[bytes, float]]] = {}
        self._secrets: dict[str, tuple[bytes, float]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, channel: str, payload: bytes) -> None:
        self._fanout.dispatch(channel, payload)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        self._fanout.add(channel, handler)

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        self._fanout.remove(channel, handler)

    async def ping(self) -> bool:
        return True

    async def hit(self, key: str, ttl_s: int) -> int:
        now = time.monotonic()
        count, expires = self._counters.get(key, (0, now + ttl_s))
        if expires <= now:
            count, expires = 0, now + ttl_s
        count += 1
        self._counters[key] = (count, expires)
        if len(self._counters) > 50_000:
            self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        return count

    async def shared_secret(self, name: str, candidate: bytes, ttl_s: int) -> bytes:
        now = time.monotonic()
        self._secrets = {k: v for k, v in self._secrets.items() if v[1] > now}  # expired ones are gone
        if name not in self._secrets:
            self._secrets[name] = (candidate, now + ttl_s)
        return self._secrets[name][0]

    async def put_ephemeral(self, namespace: str, key: str, value: bytes, ttl_s: int) -> None:
        self._ephemeral.setdefault(namespace, {})[key] = (value, time.monotonic() + ttl_s)

    async def drop_ephemeral(self, namespace: str, key: str) -> None:
        self._ephemeral.get(namespace, {}).pop(key, None)

    async def scan_ephemeral(self, namespace: str) -> dict[str, bytes]:
        now = time.monotonic()
        space = self._ephemeral.get(namespace, {})
        for key in [k for k, (_, expires) in space.items() if expires <= now]:
            del space[key]
        return {k: v for k, (v, _) in space.items()}
