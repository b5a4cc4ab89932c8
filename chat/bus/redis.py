"""The Redis bus (redis-py asyncio): pub/sub between instances, TTL counters, self-healing.

One reader task per instance owns the pub/sub connection; subscribe and unsubscribe requests go to it
through a queue, so only one task ever touches that connection. When the connection breaks (Redis
restarted, network cut), the reader reconnects with back-off, re-subscribes every channel this instance
needs, then tells every local handler that it may have missed events (payload ``None``) so sockets
catch up from the store. Publishes that failed meanwhile are kept (bounded) and sent after reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from chat import logs
from chat.bus.base import Fanout, Handler

POLL_S = 0.05
SUBSCRIBE_TIMEOUT_S = 5.0
OP_TIMEOUT_S = 2.0
MAX_PENDING = 10_000
# Commands share a bounded pool: a flood of requests waits up to POOL_TIMEOUT_S for a connection and then
# fails (503), instead of opening connections until Redis or the process runs out of them. The pub/sub
# reader holds one of them for as long as it runs.
POOL_SIZE = 64
POOL_TIMEOUT_S = 2.0


class RedisBus:
    name = "redis"

    def __init__(self, url: str, prefix: str = "mm", on_state: Callable[[bool], None] | None = None) -> None:
        self._url = url
        # Told each change of the pub/sub connection (True: connected): the metrics' bus gauge and reconnects.
        self._on_state = on_state
        self._prefix = prefix + ":"
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=POOL_SIZE, timeout=POOL_TIMEOUT_S,
            socket_timeout=5, socket_connect_timeout=2, health_check_interval=5, socket_keepalive=True,
        )
        self._redis: aioredis.Redis = aioredis.Redis.from_pool(pool)  # closes the pool with the client
        self._fanout = Fanout()
        self._requests: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._pending: deque[tuple[str, bytes]] = deque(maxlen=MAX_PENDING)
        self._reader: asyncio.Task[None] | None = None
        self._healthy = False
        self._lost = False  # the connection was up and is now lost (not merely not yet made)

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._run(), name="redis-bus-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._redis.aclose()

    async def publish(self, channel: str, payload: bytes) -> None:
        try:
            async with asyncio.timeout(OP_TIMEOUT_S):
                await self._redis.publish(self._prefix + channel, payload)
        except (RedisError, OSError, TimeoutError):
            # Already stored by the caller: keep it for after the reconnect, when every instance also
            # catches up from the store. Never raise into the message path after the durable write.
            self._pending.append((channel, payload))
            logs.event("bus_publish_deferred", backend=self.name)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        first = self._fanout.add(channel, handler)
        if first:
            self._confirmed[channel] = asyncio.get_running_loop().create_future()
            self._requests.put_nowait(("sub", channel))
        waiter = self._confirmed.get(channel)
        if self._lost:
            # Redis is away: do not keep the socket waiting for a confirmation that cannot come. The channel
            # is in the fan-out, so the reconnect subscribes it and tells its handler to catch up from the
            # store (dispatch None), as for every other channel: nothing is missed.
            return
        if waiter is not None and not waiter.done():
            try:
                async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                    await asyncio.shield(waiter)
            except TimeoutError:
                await self.unsubscribe(channel, handler)
                raise ConnectionError("bus subscription not confirmed") from None

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        if self._fanout.remove(channel, handler):
            self._requests.put_nowait(("unsub", channel))

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(OP_TIMEOUT_S):
                return bool(await self._redis.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def hit(self, key: str, ttl_s: int) -> int:
        try:
            async with asyncio.timeout(OP_TIMEOUT_S):
                pipe = self._redis.pipeline(transaction=True)
                pipe.incr(self._prefix + "n:" + key)
                pipe.expire(self._prefix + "n:" + key, ttl_s, nx=True)
                count, _ = await pipe.execute()
        except RedisError as err:
            raise ConnectionError(f"bus counter unavailable: {type(err).__name__}") from None
        return int(count)

    async def shared_secret(self, name: str, candidate: bytes, ttl_s: int) -> bytes:
        """SET NX EX then GET in one MULTI: the first instance's candidate wins and all read the same one."""
        key = self._prefix + "secret:" + name
        try:
            async with asyncio.timeout(OP_TIMEOUT_S):
                pipe = self._redis.pipeline(transaction=True)
                pipe.set(key, candidate, nx=True, ex=ttl_s)
                pipe.get(key)
                _, value = await pipe.execute()
        except RedisError as err:
            raise ConnectionError(f"bus secret unavailable: {type(err).__name__}") from None
        return bytes(value)

    async def put_ephemeral(self, namespace: str, key: str, value: bytes, ttl_s: int) -> None:
        try:
            async with asyncio.timeout(OP_TIMEOUT_S):
                await self._redis.set(f"{self._prefix}e:{namespace}:{key}", value, ex=ttl_s)
        except RedisError as err:
            raise ConnectionError(f"bus unavailable: {type(err).__name__}") from None

    async def drop_ephemeral(self, namespace: str, key: str) -> None:
        try:
            async with asyncio.timeout(OP_TIMEOUT_S):
                await self._redis.delete(f"{self._prefix}e:{namespace}:{key}")
        except RedisError as err:
            raise ConnectionError(f"bus unavailable: {type(err).__name__}") from None

    async def scan_ephemeral(self, namespace: str) -> dict[str, bytes]:
        """SCAN (never KEYS: it would block Redis) the namespace, then one MGET; a key that expired
        between the two is skipped."""
        head = f"{self._prefix}e:{namespace}:"
        try:
            async with asyncio.timeout(OP_TIMEOUT_S):
                names = [name async for name in self._redis.scan_iter(match=head + "*", count=500)]
                values = await self._redis.mget(names) if names else []
        except RedisError as err:
            raise ConnectionError(f"bus unavailable: {type(err).__name__}") from None
        out: dict[str, bytes] = {}
        for name, value in zip(names, values, strict=True):
            if value is not None:
                key = name.decode() if isinstance(name, bytes) else str(name)
                out[key[len(head):]] = value if isinstance(value, bytes) else str(value).encode()
        return out

    # The reader task.

    async def _run(self) -> None:
        attempt = 0
        while True:
            pubsub = self._redis.pubsub()
            try:
                await self._connect(pubsub)
                if attempt:
                    logs.event("bus_reconnected", backend=self.name, attempt=attempt)
                    # Pooled connections from before the outage would each fail once more (lost publishes,
                    # false "not ready"): drop them so the next commands open fresh ones.
                    await self._redis.connection_pool.disconnect(inuse_connections=False)
                    for channel in self._fanout.channels():
                        self._fanout.dispatch(channel, None)
                    await self._flush_pending()
                attempt = 0
                self._lost = False
                self._set_healthy(True)
                await self._pump(pubsub)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
                raise
            except (RedisError, OSError, TimeoutError) as err:
                self._set_healthy(False)
                self._lost = True
                attempt += 1
                logs.event("bus_disconnected", backend=self.name, attempt=attempt, error=type(err).__name__)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
                await asyncio.sleep(min(0.1 * 2 ** min(attempt, 5), 2.0))

    def _set_healthy(self, healthy: bool) -> None:
        if healthy != self._healthy and self._on_state is not None:
            self._on_state(healthy)
        self._healthy = healthy

    async def _connect(self, pubsub: Any) -> None:
        # Everything this instance needs, including requests queued while disconnected.
        while not self._requests.empty():
            self._requests.get_nowait()
        channels = self._fanout.channels()
        for stale in set(self._confirmed) - set(channels):
            del self._confirmed[stale]
        if channels:
            async with asyncio.timeout(OP_TIMEOUT_S):
                await pubsub.subscribe(*(self._prefix + c for c in channels))
        else:
            async with asyncio.timeout(OP_TIMEOUT_S):
                await pubsub.ping()

    async def _pump(self, pubsub: Any) -> None:
        while True:
            if self._pending:  # publishes that failed while this connection was up: send them now
                await self._flush_pending()
            while not self._requests.empty():
                op, channel = self._requests.get_nowait()
                wanted = channel in self._fanout.channels()
                if op == "sub" and wanted:
                    await pubsub.subscribe(self._prefix + channel)
                elif op == "unsub" and not wanted:
                    await pubsub.unsubscribe(self._prefix + channel)
                    self._confirmed.pop(channel, None)
            if not pubsub.subscribed:
                await asyncio.sleep(POLL_S)
                continue
            message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=POLL_S)
            if message is None:
                continue
            kind = message["type"]
            if message.get("channel") is None:
                # A reply on no channel: the PONG of the PING that checked a connection made with no channel
                # yet, read once the first channel is subscribed. Not to be decoded: it would end this task.
                continue
            channel = message["channel"].decode()[len(self._prefix):]
            if kind == "message":
                self._fanout.dispatch(channel, message["data"])
            elif kind == "subscribe":
                waiter = self._confirmed.get(channel)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    async def _flush_pending(self) -> None:
        while self._pending:
            channel, payload = self._pending[0]
            async with asyncio.timeout(OP_TIMEOUT_S):
                await self._redis.publish(self._prefix + channel, payload)
            self._pending.popleft()
