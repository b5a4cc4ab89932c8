"""Fixtures of the fault tests: a fresh PostgreSQL database (``procs`` and ``clients`` are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fault.procs import Procs, pg_database


@pytest.fixture
async def fresh_pg_url(procs: Procs) -> AsyncIterator[str]:
    """An empty database of its own; the servers are stopped before it is dropped."""
    async with pg_database() as url:
        try:
            yield url
        finally:
            procs.cleanup()

