"""Fixtures of the crypto tests that start ``minimaria serve`` processes (the tests/fault harness)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fault.flow import Clients
from tests.fault.procs import Procs


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.cleanup()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    c = Clients()
    try:
        yield c
    finally:
        await c.aclose()
