"""Fixtures of the fault tests: the processes a test started, a fresh PostgreSQL database, client cleanup."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.client import WS, Staff, Visitor
from tests.fault.procs import Procs, pg_database


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.cleanup()


@pytest.fixture
async def pg_url(procs: Procs) -> AsyncIterator[str]:
    """An empty database of its own; the servers are stopped before it is dropped."""
    async with pg_database() as url:
        try:
            yield url
        finally:
            procs.cleanup()


class Clients:
    """Test clients to close at teardown, whatever state the test left them in."""

    def __init__(self) -> None:
        self.sockets: list[WS] = []
        self.visitors: list[Visitor] = []
        self.staff: list[Staff] = []

    def add(self, client: Visitor | Staff) -> None:
        (self.visitors if isinstance(client, Visitor) else self.staff).append(client)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        for v in self.visitors:
            if v.ws is not None:
                await v.ws.close()
        for s in self.staff:
            await s.aclose()
        for ws in self.sockets:
            await ws.close()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    c = Clients()
    try:
        yield c
    finally:
        await c.aclose()
