"""Idle visitor sockets: memory per socket, and how starts and resumes scale with the queue.

On a fresh server: start N conversations (HTTP, ``STARTS_AT_ONCE`` at a time), then open all N
visitor sockets at once and say hello (the first storm), let them idle, and read the server's
resident memory (VmRSS) before and after: the difference over N is the memory one idle socket holds.
With the N still waiting, start and open ``extra`` more (the start and hello rate at the end of the
queue), counting meanwhile the frames each waiting socket receives (queue pushes). Then close every
socket and open them all again at once (the reconnect storm). The relay has no starts; its "hello"
is joining a room.

Every step stops at ``cap`` seconds; what did not finish by then is reported as not done.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import websockets

from bench.servers import Server, rss_kib

STARTS_AT_ONCE = 20  # concurrent start requests
CONNECTS_AT_ONCE = 1000  # concurrent handshakes in a storm (uvicorn's listen backlog is 2,048)
SETTLE_S = 2.0
WARM_UP = 20


@dataclass
class IdleResult:
    wanted: int
    started: int
    start_s: float | None  # None: the relay has no starts
    connected: int
    hello_s: float
    kib_per_socket: float
    end_starts: int
    end_start_per_s: float | None
    end_hello_per_s: float
    pushes_per_socket_s: float  # frames a waiting socket received per second while the others joined
    resumed: int
    storm_s: float

    @property
    def start_per_s(self) -> float | None:
        return None if self.start_s is None else self.started / self.start_s

    @property
    def hello_per_s(self) -> float:
        return self.connected / self.hello_s

    @property
    def storm_per_s(self) -> float:
        return self.resumed / self.storm_s


class Idler:
    """One idle visitor socket, reading (and counting) what the server pushes."""

    def __init__(self, hello: str) -> None:
        self.hello = hello
        self.ws: websockets.ClientConnection | None = None
        self.frames = 0
        self.task: asyncio.Task[None] | None = None

    async def open(self, url: str) -> None:
        ws = await websockets.connect(url, compression=None, max_queue=None, open_timeout=None)
        await ws.send(self.hello)
        while json.loads(await ws.recv())["type"] != "welcome":
            pass
        self.ws = ws
        self.task = asyncio.create_task(self._drain(ws))

    async def _drain(self, ws: websockets.ClientConnection) -> None:
        async for _frame in ws:
            self.frames += 1

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.ws is not None:
            await self.ws.close()
        self.ws = self.task = None


async def _bounded(jobs: list[Callable[[], Awaitable[None]]], at_once: int, cap: float) -> tuple[int, float]:
    """Run jobs with at most ``at_once`` in flight; stop at ``cap`` s. Returns (done, seconds)."""
    gate = asyncio.Semaphore(at_once)
    done = 0

    async def one(job: Callable[[], Awaitable[None]]) -> None:
        nonlocal done
        async with gate:
            await job()
            done += 1

    started = time.perf_counter()
    tasks = [asyncio.create_task(one(job)) for job in jobs]
    _finished, pending = await asyncio.wait(tasks, timeout=cap)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return done, time.perf_counter() - started


async def _start(server: Server, count: int, cap: float, tag: str) -> tuple[list[Idler], float]:
    if server.is_relay:
        return [Idler(json.dumps({"room": f"{tag}{n}"})) for n in range(count)], 0.0
    idlers: list[Idler] = []
    limits = httpx.Limits(max_connections=STARTS_AT_ONCE, max_keepalive_connections=STARTS_AT_ONCE)
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=cap) as http:

        async def start() -> None:
            r = await http.post("/api/v1/conversations", json={"role": "young"})
            r.raise_for_status()
            idlers.append(Idler(json.dumps({"type": "hello", "token": r.json()["visitor_token"]})))

        _done, seconds = await _bounded([start] * count, STARTS_AT_ONCE, cap)
    return idlers, seconds


async def _open(server: Server, idlers: list[Idler], cap: float) -> tuple[int, float]:
    return await _bounded([functools.partial(i.open, server.visitor_url) for i in idlers], CONNECTS_AT_ONCE, cap)


async def idle(server: Server, count: int, extra: int, cap: float) -> IdleResult:
    idlers, start_s = await _start(server, count, cap, "i")
    # A few sockets first, closed again: the server's one-time costs of its first sockets (code paths,
    # caches, buffers) are not any one idle socket's memory.
    warm = idlers[:WARM_UP]
    await _open(server, warm, cap)
    await asyncio.gather(*(i.close() for i in warm), return_exceptions=True)
    await asyncio.sleep(SETTLE_S)
    rss0 = rss_kib(server.pid)
    connected, hello_s = await _open(server, idlers, cap)
    await asyncio.sleep(SETTLE_S)
    rss1 = rss_kib(server.pid)
    waiting = [i for i in idlers if i.ws is not None]

    frames0 = sum(i.frames for i in waiting)
    joined0 = time.perf_counter()
    more, end_start_s = await _start(server, extra, cap, "j")
    end_connected, end_hello_s = await _open(server, more, cap)
    joined_s = time.perf_counter() - joined0
    pushes = (sum(i.frames for i in waiting) - frames0) / max(1, len(waiting)) / joined_s

    everyone = [i for i in [*idlers, *more] if i.ws is not None]
    await asyncio.gather(*(i.close() for i in everyone), return_exceptions=True)
    await asyncio.sleep(SETTLE_S)  # the server sees the closes before the storm
    resumed, storm_s = await _open(server, everyone, cap)
    await asyncio.gather(*(i.close() for i in everyone), return_exceptions=True)
    return IdleResult(
        wanted=count,
        started=len(idlers),
        start_s=None if server.is_relay else start_s,
        connected=connected,
        hello_s=hello_s,
        kib_per_socket=(rss1 - rss0) / max(1, connected),
        end_starts=len(more),
        end_start_per_s=None if server.is_relay else len(more) / max(1e-9, end_start_s),
        end_hello_per_s=end_connected / max(1e-9, end_hello_s),
        pushes_per_socket_s=pushes,
        resumed=resumed,
        storm_s=storm_s,
    )
