"""Fixtures of the fault tests: the processes a test started, a fresh PostgreSQL database, client cleanup."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fault.flow import Clients
from tests.fault.procs import Procs, pg_database


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.cleanup()


@pytest.fixture
async def fresh_pg_url(procs: Procs) -> AsyncIterator[str]:
    """An empty database of its own; the servers are stopped before it is dropped."""
    async with pg_database() as url:
        try:
            yield url
        finally:
            procs.cleanup()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    c = Clients()
    try:
        yield c
    finally:
        await c.aclose()
