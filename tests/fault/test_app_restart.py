"""One instance on SQLite (memory bus) stopped with SIGTERM mid-conversation and started again."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests import services
from tests.fault.flow import Clients, Log, chat_claimed_by_anna, matches, seen, seqs, settle, sqlite_messages, until_seq
from tests.fault.procs import Procs, add_staff, service_env

pytestmark = pytest.mark.slow

SHUTDOWN_S = 6.0  # uvicorn's graceful timeout is 5 s
CLOSE_SERVICE_RESTART = 1012


async def test_sigterm_closes_sockets_with_1012_and_a_restart_loses_nothing_(
    procs: Procs, clients: Clients, tmp_path: Path
) -> None:
    """SIGTERM closes every socket with 1012 and exits 0; after a restart both sides resume and nothing is lost or doubled."""
    db = tmp_path / "chat.db"
    port = services.free_port()
    env = service_env(database_url=f"sqlite+aiosqlite:///{db}", allowed_origins=f"http://127.0.0.1:{port}")
    await add_staff(env, "anna", "Anna", cwd=tmp_path)  # on SQLite this also creates the tables
    app = procs.server("app", env, port)
    await app.start()

    visitor, staff = await chat_claimed_by_anna(clients, app.base, app.base)
    assert visitor.ws is not None and staff.ws is not None
    v_before, s_before = visitor.ws, staff.ws

    log = Log()

    async def visitor_says(text: str, cmid: str) -> int:
        return log.add(await visitor.say(text, cmid), "visitor", text, cmid)

    async def staff_says(text: str, cmid: str) -> int:
        return log.add(await staff.say(visitor.id, text, cmid), "staff", text, cmid)

    assert await visitor_says("hej", "v1") == 1
    assert await staff_says("Hej! Hur kan jag hjälpa?", "s2") == 2
    assert await visitor_says("jag dricker för mycket", "v3") == 3
    for ws in (v_before, s_before):
        await until_seq(ws, 3)

    # SIGTERM: both sockets are told "service restart" (1012) at once, and the process exits in time.
    signalled = time.monotonic()
    app.signal(signal.SIGTERM)
    assert await v_before.closed(timeout=SHUTDOWN_S) == CLOSE_SERVICE_RESTART
    assert await s_before.closed(timeout=SHUTDOWN_S) == CLOSE_SERVICE_RESTART
    exit_code = await app.wait(SHUTDOWN_S)
    stopped_in = time.monotonic() - signalled
    assert exit_code is not None, f"still running {SHUTDOWN_S} s after SIGTERM"
    assert '"event": "stopped"' in app.stderr()  # the lifespan shutdown ran: a graceful stop, not a crash

    # Same port, same database file.
    await app.start()

    # Staff come back first (same session cookie: sessions live in the database) and write meanwhile.
    welcome = await staff.connect(last_seq={visitor.id: max(seqs(s_before))})
    assert [c["conversation_id"] for c in welcome["conversations"]] == [visitor.id]
    s_after = staff.ws
    assert s_after is not None
    assert await staff_says("Är du kvar?", "s4") == 4
    assert await staff_says("Servern startades om, skriv igen om du vill.", "s5") == 5
    await until_seq(s_after, 5)

    # The visitor resumes from the last seq it saw and gets what staff wrote while it was away.
    welcome = await visitor.connect(last_seq=max(seqs(v_before)))
    assert welcome["state"] == "active" and welcome["last_seq"] == 5
    v_after = visitor.ws
    assert v_after is not None
    await until_seq(v_after, 5)

    # And the conversation goes on.
    assert await staff_says("Vad skönt att du är tillbaka.", "s6") == 6
    assert await visitor_says("ja, jag är här", "v7") == 7
    for ws in (v_after, s_after):
        await until_seq(ws, 7)
        await settle(ws)

    expected = log.expected
    assert seqs(v_before, v_after) == seqs(s_before, s_after) == list(range(1, 8))
    assert seen(v_before, v_after) == seen(s_before, s_after) == expected
    assert matches(sqlite_messages(db, visitor.id), expected)

    # Checked last so that a wrong exit code does not hide how the restart itself went.
    assert stopped_in < SHUTDOWN_S
    assert exit_code == 0, (
        f"minimaria serve exited with {exit_code} after a graceful SIGTERM; supervisors read a non-zero status as a crash"
    )
