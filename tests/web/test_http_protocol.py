"""The HTTP edge under uvicorn as configured (app.uvicorn_config): request headers have a deadline, so
connections that never finish them are closed (slowloris); HSTS is sent only when the service says it is
behind HTTPS. Raw sockets against a real server."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from chat.app import create_app, uvicorn_config
from chat.settings import Settings
from tests.client import Visitor
from tests.conftest import InProcessServer, serve

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # the HTTP edge does not depend on the backend


async def closed_by_server(reader: asyncio.StreamReader, within_s: float) -> bool:
    try:
        async with asyncio.timeout(within_s):
            return await reader.read(1024) == b""
    except TimeoutError:
        return False


async def test_connections_with_unfinished_headers_are_closed_at_the_deadline(settings: Settings) -> None:
    async with serve(settings.replace(header_timeout_s=1.0)) as server:
        port = int(server.base.rsplit(":", 1)[1])
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(300)]
        try:
            opened = time.monotonic()
            for i, (_, writer) in enumerate(conns):
                if i % 2:  # half send part of a request, half nothing at all
                    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    await writer.drain()
            # Meanwhile the server answers others as usual.
            async with httpx.AsyncClient(base_url=server.base) as http:
                assert (await http.get("/healthz")).status_code == 200
            results = await asyncio.gather(*(closed_by_server(reader, 5.0) for reader, _ in conns))
            assert all(results), f"{results.count(False)} of {len(conns)} connections still open"
            assert time.monotonic() - opened >= 0.9  # not before the deadline
        finally:
            for _, writer in conns:
                writer.close()
                await writer.wait_closed()


async def test_a_keep_alive_connection_that_stalls_in_its_next_request_is_closed(settings: Settings) -> None:
    async with serve(settings.replace(header_timeout_s=1.0)) as server:
        port = int(server.base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        await reader.readexactly(length)
        writer.write(b"GET /healthz HTTP/1.1\r\nHo")  # then nothing: keep-alive's own timer was cancelled
        await writer.drain()
        try:
            assert await closed_by_server(reader, 4.0)
        finally:
            writer.close()
            await writer.wait_closed()


async def test_a_slow_but_complete_request_within_the_deadline_is_answered(settings: Settings) -> None:
    async with serve(settings.replace(header_timeout_s=2.0)) as server:
        port = int(server.base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.3)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        writer.close()


async def test_hsts_only_with_secure_cookies(settings: Settings) -> None:
    async with serve(settings) as plain, httpx.AsyncClient(base_url=plain.base) as http:
        assert "strict-transport-security" not in (await http.get("/healthz")).headers
    async with serve(settings.replace(secure_cookies=True)) as secure, httpx.AsyncClient(base_url=secure.base) as http:
        for path in ("/healthz", "/", "/api/v1/intake"):
            hsts = (await http.get(path)).headers["strict-transport-security"]
            assert hsts == "max-age=31536000; includeSubDomains"


async def test_sockets_and_kept_alive_connections_outlive_the_header_deadline(settings: Settings) -> None:
    """The deadline is for headers only: an upgraded socket, and an idle kept-alive connection between
    requests (uvicorn's own keep-alive timeout, 5 s, governs that), are not cut by it."""
    async with serve(settings.replace(header_timeout_s=0.5)) as server:
        visitor = await Visitor.start(server.base)
        await visitor.connect()
        async with httpx.AsyncClient(base_url=server.base) as http:
            assert (await http.get("/healthz")).status_code == 200
            await asyncio.sleep(1.5)  # time passing is what is tested: three deadlines
            assert (await http.get("/healthz")).status_code == 200
        assert visitor.ws is not None
        await visitor.ws.send(type="ping")
        await visitor.ws.expect("pong")
        await visitor.ws.close()


async def test_connections_get_tcp_nodelay_whatever_socket_uvicorn_was_given(settings: Settings) -> None:
    """A response's head and body are two writes: with Nagle on, the body waited for the client's delayed ACK
    and every request on a kept-alive connection took ~40 ms more (bench/keepalive.py has the numbers).
    asyncio only sets TCP_NODELAY when the listening socket was made with proto=IPPROTO_TCP; this one (as the
    test server's, and a socket handed over under socket activation) has proto=0."""
    app = create_app(settings)
    listening = socket.socket()  # proto 0
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = InProcessServer(uvicorn_config(app, settings, "127.0.0.1", port))
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(20):  # one kept-alive connection answers them all
                assert (await http.get("/healthz")).status_code == 200
            connections = list(server.server_state.connections)
            assert len(connections) == 1
            accepted = connections[0].transport.get_extra_info("socket")
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        server.should_exit = True
        await task
        listening.close()
