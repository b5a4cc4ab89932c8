"""Running the real ``minimaria`` command in tests: its environment for a Settings, and its result.

Unlike ``tests/fault/procs.run_cli`` this hands back refusals too (exit code, stdout, stderr), since
several commands are tested for refusing.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from chat.settings import Settings
from tests.fault.procs import minimaria_cmd, service_env


def key_file(settings: Settings) -> Path:
    """The key file a server with these settings uses (the configured one, or SQLite's development one)."""
    path = settings.keys_file or settings.dev_keys_file
    assert path is not None
    return path


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that points ``minimaria`` at the same database and key file as ``settings``."""
    return service_env(
        database_url=settings.database_url, keys_file=str(key_file(settings)),
        keys_reload_s=f"{settings.keys_reload_s:g}", **extra,
    )


def minimaria(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*minimaria_cmd(), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


async def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``minimaria ARGS`` off the event loop, so an in-process server keeps serving meanwhile."""
    return await asyncio.to_thread(minimaria, env, *args)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def key_counts(listing: str) -> dict[str, tuple[bool, int]]:
    """``keys list`` output as {key id: (primary, conversations)}."""
    rows = {}
    for line in listing.splitlines()[1:]:
        parts = line.split()
        primary = len(parts) > 2 and parts[1] == "yes"
        rows[parts[0]] = (primary, int(parts[2] if primary else parts[1]))
    return rows
