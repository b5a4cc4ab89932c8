"""Benchmark: requests on one reused keep-alive connection, per way of giving uvicorn its listening socket.

uvicorn writes a response's head and its body in two ``send()`` calls. On a connection without TCP_NODELAY,
Nagle holds the second (small) write back until the first is acknowledged, and the client acknowledges
late (delayed ACK, ~40 ms on Linux): every request on a reused connection then takes ~40 ms, whatever the
handler costs. asyncio sets TCP_NODELAY on accepted sockets only when the listening socket says
``proto == IPPROTO_TCP``, which a plain ``socket.socket()`` (tests/conftest.py ``serve``) and uvicorn's
``--fd`` (socket activation) do not; chat/web/http_protocol.py now sets it on every connection.

An in-process server on SQLite, as the tests run it, one logged-in staff member, one httpx client
(keep-alive): N × GET /api/v1/staff/me and N × POST (a claim of a conversation that does not exist, 404),
each timed. Three listening sockets: ``socket.socket()``, ``socket.socket(AF_INET, SOCK_STREAM,
IPPROTO_TCP)``, and uvicorn binding host:port itself.

    python -m bench.keepalive [--requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette

from chat.app import create_app, uvicorn_config
from chat.service import accounts
from chat.settings import Settings
from chat.store.migrate import upgrade

PASSWORD = "benchmark password"


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def _serve(settings: Settings, how: str) -> AsyncIterator[tuple[str, Starlette]]:
    app = create_app(settings, None)
    if how == "uvicorn binds":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = _Server(uvicorn_config(app, settings, "127.0.0.1", port))
        task = asyncio.create_task(server.serve())
        sock = None
    else:
        sock = socket.socket() if how == "socket()" else socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = _Server(uvicorn_config(app, settings, "127.0.0.1", port))
        task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await task
        if sock is not None:
            sock.close()


async def _timed(n: int, call: Callable[[], Awaitable[None]]) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _summary(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    return (
        f"  {name:5} n={len(ms):3}  median {statistics.median(ms):6.2f} ms  p90 {ms[int(len(ms) * 0.9)]:6.2f} ms"
        f"  max {ms[-1]:6.2f} ms  total {sum(ms):7.1f} ms"
    )


async def run(how: str, n: int, url: str) -> None:
    settings = Settings(database_url=url, allowed_origins=())
    async with _serve(settings, how) as (base, app):
        await accounts.add_staff(app.state.ctx, "bench", PASSWORD, ["reception"], ["reception"], "Bench")
        async with httpx.AsyncClient(base_url=base, headers={"Origin": base}) as http:
            r = await http.post("/api/v1/staff/login", json={"username": "bench", "password": PASSWORD})
            r.raise_for_status()
            http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            await http.get("/api/v1/staff/me")  # the connection is open and reused from here on
            missing = f"/api/v1/staff/conversations/{uuid.uuid4()}/claim"

            async def get() -> None:
                assert (await http.get("/api/v1/staff/me")).status_code == 200

            async def post() -> None:
                assert (await http.post(missing, json={"why": "bench"})).status_code in (403, 404, 409)

            gets = await _timed(n, get)
            posts = await _timed(n, post)
    print(how)
    print(_summary("GET", gets))
    print(_summary("POST", posts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for how in ("socket()", "socket(IPPROTO_TCP)", "uvicorn binds"):
            url = f"sqlite+aiosqlite:///{Path(tmp) / uuid.uuid4().hex}.db"
            upgrade(url)
            asyncio.run(run(how, args.requests, url))


if __name__ == "__main__":
    main()
