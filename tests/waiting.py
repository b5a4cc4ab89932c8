"""Waiting for something a server does on its own (a timer, a file re-read) that sends no frame to await."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Return as soon as ``condition()`` is true (checked every 20 ms); TimeoutError after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)
