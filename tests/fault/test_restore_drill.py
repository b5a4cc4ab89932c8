"""The restore drill of docs/operations.md on the machine's PostgreSQL: a chat, ``pg_dump``, a restore into a
fresh database with ``psql``, the service on the restored database with its key file (the transcript reads)
and without it (nothing reads, and the service says why)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from chat.crypto.keyring import FileKeyRing
from tests.client import Staff
from tests.fault.flow import Clients, chat_claimed_by_anna, until_seq
from tests.fault.procs import (
    STAFF_PASSWORD,
    Procs,
    add_staff,
    asyncpg_dsn,
    db_upgrade,
    free_ports,
    minimaria_cmd,
    pg_database,
    run_cli,
    service_env,
)

pytestmark = pytest.mark.slow

VISITOR_SAYS = "jag heter Elsa och bor i Rättvik"
STAFF_SAYS = "Tack Elsa, berätta mer om hur du mår"
NOTE = "Elsa nämner skolkuratorn Bengt"
WORDS = (VISITOR_SAYS, STAFF_SAYS, NOTE)


def require_pg_tools() -> None:
    for tool in ("pg_dump", "psql"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not on PATH (Debian: apt-get install postgresql-client)")


async def run(*args: str) -> None:
    """Run a PostgreSQL client tool to completion; fail the test with its output unless it exits 0."""
    done = await asyncio.to_thread(subprocess.run, list(args), capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, f"{args[0]} exited {done.returncode}:\n{done.stdout.decode()}\n{done.stderr.decode()}"


async def test_a_dump_restores_readable_with_its_key_file_and_unreadable_without_(
    procs: Procs, clients: Clients, tmp_path: Path
) -> None:
    """A dumped and restored database reads with its key file; without it startup names the missing file, and with
    another key file the log names the unusable key and transcripts answer key_unavailable; the dump holds no text."""
    require_pg_tools()
    (port,) = free_ports(1)
    keys_file = tmp_path / "keys.json"
    async with pg_database() as live_url, pg_database() as restored_url:
        env = service_env(database_url=live_url, keys_file=str(keys_file), allowed_origins=f"http://127.0.0.1:{port}")
        await run_cli(env, "keys", "init", cwd=tmp_path)
        await db_upgrade(env, cwd=tmp_path)
        await add_staff(env, "anna", "Anna", cwd=tmp_path)

        # A short conversation on the live database: the visitor, Anna, and an internal note.
        live = await procs.server("live", env, port).start()
        visitor, staff = await chat_claimed_by_anna(clients, live.base, live.base)
        assert visitor.ws is not None
        assert (await visitor.say(VISITOR_SAYS, "v1"))["seq"] == 1
        assert (await staff.say(visitor.id, STAFF_SAYS, "s2"))["seq"] == 2
        await until_seq(visitor.ws, 2)
        note = await staff.http.post(f"/api/v1/staff/conversations/{visitor.id}/notes", json={"text": NOTE})
        assert note.status_code == 201, note.text
        await visitor.ws.close()
        await staff.aclose()
        assert await live.terminate() == 0

        # Back up: a plain SQL dump of the database (the key file is backed up elsewhere, never beside it).
        dump = tmp_path / "minimaria.sql"
        await run("pg_dump", "--no-owner", "--no-privileges", f"--file={dump}", f"--dbname={asyncpg_dsn(live_url)}")
        dumped = dump.read_bytes()
        assert b"COPY public.messages" in dumped and visitor.id.encode() in dumped  # a real dump of this chat
        for words in WORDS:
            assert words.encode() not in dumped, "plaintext in the dump"
            assert words.encode().hex().encode() not in dumped, "plaintext (as bytea hex) in the dump"

        # Restore into a fresh, empty database.
        await run(
            "psql",
            "--quiet",
            "--no-psqlrc",
            "--set=ON_ERROR_STOP=1",
            "--output=/dev/null",
            f"--file={dump}",
            f"--dbname={asyncpg_dsn(restored_url)}",
        )
        restored_env = {**env, "MINIMARIA_DATABASE_URL": restored_url}

        # With the key file: the holder reads the whole transcript, notes included.
        with_keys = await procs.server("restored", restored_env, port).start()
        staff = staff_client(clients, with_keys.base)
        await staff.login()
        transcript = await staff.http.get(f"/api/v1/staff/conversations/{visitor.id}/transcript")
        assert transcript.status_code == 200, transcript.text
        body = transcript.json()
        assert [m["text"] for m in body["messages"]] == [VISITOR_SAYS, STAFF_SAYS]
        assert [n["text"] for n in body["notes"]] == [NOTE]
        assert not any(line.get("event") == "keys_unusable" for line in with_keys.log_lines())
        await staff.aclose()
        assert await with_keys.terminate() == 0

        # Without the key file: the service refuses to start and says which file and what to do.
        missing = tmp_path / "missing-keys.json"
        no_keys = procs.server("no-keys", {**restored_env, "MINIMARIA_KEYS_FILE": str(missing)}, port)
        no_keys.launch()
        assert await no_keys.wait(15) == 1
        said = no_keys.stderr()
        assert str(missing) in said and "No such file" in said
        assert "MINIMARIA_KEYS_FILE" in said and "operations.md" in said

        # With another key file (a new one, its key also called k1): the service starts, but its log says at once
        # that k1 does not open this database's keys, and the transcript is refused with key_unavailable.
        other = tmp_path / "other-keys.json"
        FileKeyRing.create(other)
        other_env = {**restored_env, "MINIMARIA_KEYS_FILE": str(other)}
        wrong = await procs.server("wrong-keys", other_env, port).start()
        await wrong.until_logged("keys_unusable", key_id="k1", reason="wrong_key", count=1)
        staff = staff_client(clients, wrong.base)
        await staff.login()
        refused = await staff.http.get(f"/api/v1/staff/conversations/{visitor.id}/transcript")
        assert refused.status_code == 500
        assert refused.json()["error"]["code"] == "key_unavailable"
        assert not any(words in refused.text for words in WORDS)
        await wrong.until_logged("dek_unavailable", conversation_id=visitor.id, key_id="k1", reason="wrong_key")
        await staff.aclose()
        assert await wrong.terminate() == 0

        # `keys list` says so too, and exits 1.
        listed = await asyncio.to_thread(
            subprocess.run,
            [*minimaria_cmd(), "keys", "list"],
            env=other_env,
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 1
        assert b"DOES NOT OPEN" in listed.stdout and b"operations.md" in listed.stderr


def staff_client(clients: Clients, base: str) -> Staff:
    staff = Staff(base, "anna", STAFF_PASSWORD)
    clients.add(staff)
    return staff
