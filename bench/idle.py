"""Idle visitor sockets: memory per socket, and how starts and resumes scale with the queue.

On a fresh server: start N conversations (HTTP, ``STARTS_AT_ONCE`` at a time), then open their N
visitor sockets and say hello (``HELLOS_AT_ONCE`` at a time, like visitors arriving), let them idle,
and read the server's resident memory (VmRSS) before and after: the difference over N is the memory
one idle socket holds. With the N still waiting, start and open ``extra`` more (the start and hello
rate at the end of the queue), counting meanwhile the frames each waiting socket receives (queue
pushes). Then close every socket and open them all again at once (the reconnect storm,
``CONNECTS_AT_ONCE`` handshakes in flight, each trying again after a refused or timed-out hello as
the visitor page does, until all are back or the cap), and read VmRSS again: what a storm leaves behind (the
allocator keeps its high-water mark) shows as memory per socket after the storm. The relay has no
starts; its "hello" is joining a room.

Every step stops at ``cap`` seconds; what did not finish by then is reported as not done.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import websockets

from bench.servers import Server, rss_kib

STARTS_AT_ONCE = 20  # concurrent start requests
HELLOS_AT_ONCE = 20  # concurrent handshakes while the idle sockets arrive (the memory figure)
CONNECTS_AT_ONCE = 1000  # concurrent handshakes in a storm (uvicorn's listen backlog is 2,048)
SETTLE_S = 2.0
WARM_UP = 20
RETRY_S = 0.5  # pause before a storm socket tries again


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
    kib_per_socket_after_storm: float
    failures: dict[str, int]  # "step: why" -> how many

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
        try:
            await ws.send(self.hello)
            while json.loads(await ws.recv())["type"] != "welcome":
                pass
        except BaseException:
            await ws.close()
            raise
        self.ws = ws
        self.task = asyncio.create_task(self._drain(ws))

    async def _drain(self, ws: websockets.ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for _frame in ws:
                self.frames += 1

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.ws is not None:
            await self.ws.close()
        self.ws = self.task = None


def _why(err: BaseException) -> str:
    """A short name for a failed step: the exception, and a close code or HTTP status when there is one."""
    if isinstance(err, websockets.ConnectionClosed) and err.rcvd is not None:
        return f"closed {err.rcvd.code}"
    if isinstance(err, httpx.HTTPStatusError):
        return f"HTTP {err.response.status_code}"
    return type(err).__name__


async def _bounded(
    jobs: list[Callable[[], Awaitable[None]]], at_once: int, cap: float, failures: Counter[str], step: str
) -> tuple[int, float]:
    """Run jobs with at most ``at_once`` in flight; stop at ``cap`` s. Returns (done, seconds); counts failures."""
    gate = asyncio.Semaphore(at_once)
    done = 0

    async def one(job: Callable[[], Awaitable[None]]) -> None:
        nonlocal done
        async with gate:
            try:
                await job()
            except (OSError, TimeoutError, websockets.WebSocketException, httpx.HTTPError, KeyError) as err:
                failures[f"{step}: {_why(err)}"] += 1
                return
            done += 1

    started = time.perf_counter()
    tasks = [asyncio.create_task(one(job)) for job in jobs]
    _finished, pending = await asyncio.wait(tasks, timeout=cap)
    for task in pending:
        task.cancel()
    if pending:
        failures[f"{step}: not done within {cap:g} s"] += len(pending)
    await asyncio.gather(*tasks, return_exceptions=True)
    return done, time.perf_counter() - started


async def _start(server: Server, count: int, cap: float, tag: str, failures: Counter[str]) -> tuple[list[Idler], float]:
    if server.is_relay:
        return [Idler(json.dumps({"room": f"{tag}{n}"})) for n in range(count)], 0.0
    idlers: list[Idler] = []
    limits = httpx.Limits(max_connections=STARTS_AT_ONCE, max_keepalive_connections=STARTS_AT_ONCE)
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=cap) as http:

        async def start() -> None:
            r = await http.post("/api/v1/conversations", json={"role": "young"})
            r.raise_for_status()
            idlers.append(Idler(json.dumps({"type": "hello", "token": r.json()["visitor_token"]})))

        _done, seconds = await _bounded([start] * count, STARTS_AT_ONCE, cap, failures, f"start ({tag})")
    return idlers, seconds


async def _open(
    server: Server, idlers: list[Idler], cap: float, failures: Counter[str], step: str, at_once: int = HELLOS_AT_ONCE
) -> tuple[int, float]:
    return await _bounded([functools.partial(i.open, server.visitor_url) for i in idlers], at_once, cap, failures, step)


async def _resume(idler: Idler, url: str, failures: Counter[str]) -> None:
    """Reconnect like a visitor's page does: a refused or timed-out hello is tried again after a pause."""
    while True:
        try:
            await idler.open(url)
            return
        except (OSError, TimeoutError, websockets.WebSocketException) as err:
            failures[f"storm, tried again: {_why(err)}"] += 1
            await asyncio.sleep(RETRY_S)


async def idle(server: Server, count: int, extra: int, cap: float) -> IdleResult:
    failures: Counter[str] = Counter()
    idlers, start_s = await _start(server, count, cap, "i", failures)
    # A few sockets first, closed again: the server's one-time costs of its first sockets (code paths,
    # caches, buffers) are not any one idle socket's memory.
    warm = idlers[:WARM_UP]
    await _open(server, warm, cap, failures, "warm-up hello")
    await asyncio.gather(*(i.close() for i in warm), return_exceptions=True)
    await asyncio.sleep(SETTLE_S)
    rss0 = rss_kib(server.pid)
    connected, hello_s = await _open(server, idlers, cap, failures, "hello")
    await asyncio.sleep(SETTLE_S)
    rss1 = rss_kib(server.pid)
    waiting = [i for i in idlers if i.ws is not None]

    frames0 = sum(i.frames for i in waiting)
    joined0 = time.perf_counter()
    more, end_start_s = await _start(server, extra, cap, "j", failures)
    end_connected, end_hello_s = await _open(server, more, cap, failures, "hello (j)")
    joined_s = time.perf_counter() - joined0
    pushes = (sum(i.frames for i in waiting) - frames0) / max(1, len(waiting)) / joined_s

    everyone = [i for i in [*idlers, *more] if i.ws is not None]
    await asyncio.gather(*(i.close() for i in everyone), return_exceptions=True)
    await asyncio.sleep(SETTLE_S)  # the server sees the closes before the storm
    resumed, storm_s = await _bounded(
        [functools.partial(_resume, i, server.visitor_url, failures) for i in everyone], CONNECTS_AT_ONCE, cap, failures, "storm"
    )
    await asyncio.sleep(SETTLE_S)
    rss2 = rss_kib(server.pid)
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
        kib_per_socket_after_storm=(rss2 - rss0) / max(1, resumed),
        failures=dict(failures),
    )
