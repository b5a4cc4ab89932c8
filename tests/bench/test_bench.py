"""The load generator (``python -m bench``) in its quick mode, and its store check failing when it should.

The store check is what makes the benchmark's "lost 0, duplicated 0, out of order 0" mean something,
so these tests plant a lost, a duplicated and a reordered message in a real store (the SQLite file of
a real ``minimaria serve`` run) and in the deliveries, and require the check to count each one.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench import servers, storecheck
from bench.__main__ import message_phases, options

pytestmark = pytest.mark.slow  # starts server processes and runs load for a few seconds

QUICK = ["--quick", "--conversations", "4", "--window-seconds", "0.5", "--rates", "100", "--rate-seconds", "0.5"]


def _visitor_rows(db: Path) -> list[tuple[int, str, int, str]]:
    with sqlite3.connect(db) as conn:
        return list(
            conn.execute(
                "SELECT id, conversation_id, seq, client_msg_id FROM messages "
                "WHERE client_msg_id LIKE 't-%' ORDER BY conversation_id, seq"
            )
        )


async def test_quick_run_against_the_relay_delivers_every_acked_message_once_in_order() -> None:
    async with servers.relay() as relay:
        result, load = await message_phases(relay, options(QUICK), "t")
    found = storecheck.check(load.rec, [], check_store=False)
    assert result["window"]["acked"] > 0 and result["open"]["100"]["acked"] > 0
    assert found.acked == result["window"]["acked"] + result["open"]["100"]["acked"]
    assert found.ok, found.line()


async def test_store_check_counts_a_planted_lost_duplicated_and_reordered_message(tmp_path: Path) -> None:
    async with servers.chat("sqlite", tmp_path, staff_accounts=1) as server:
        result, load = await message_phases(server, options(QUICK), "t")
        assert server.sqlite_file is not None
        db = server.sqlite_file
    rec = load.rec
    clean = storecheck.check(rec, await server.read_store())
    assert clean.acked == result["window"]["acked"] + result["open"]["100"]["acked"] > 3
    assert clean.ok, clean.line()

    rows = _visitor_rows(db)
    with sqlite3.connect(db) as conn:  # lost: an acked message's row is gone
        conn.execute("DELETE FROM messages WHERE id = ?", (rows[0][0],))
    lost = storecheck.check(rec, await server.read_store())
    assert (lost.lost, lost.duplicated, lost.out_of_order) == (1, 0, 0)

    conversation = rows[1][1]
    with sqlite3.connect(db) as conn:  # duplicated: the same client message stored a second time
        top = conn.execute("SELECT max(seq) FROM messages WHERE conversation_id = ?", (conversation,)).fetchone()[0]
        conn.execute(
            "INSERT INTO messages (conversation_id, seq, sender, client_msg_id, body, created_at) "
            "SELECT conversation_id, ?, 'staff', client_msg_id, body, created_at FROM messages WHERE id = ?",
            (top + 1, rows[1][0]),
        )
    duplicated = storecheck.check(rec, await server.read_store())
    assert (duplicated.lost, duplicated.duplicated, duplicated.out_of_order) == (1, 1, 0)

    (a, conv_a, seq_a, _), (b, conv_b, seq_b, _) = rows[2], rows[3]
    assert conv_a == conv_b and seq_a < seq_b
    with sqlite3.connect(db) as conn:  # out of order: two messages' places swapped
        conn.execute("UPDATE messages SET seq = -1 WHERE id = ?", (a,))
        conn.execute("UPDATE messages SET seq = ? WHERE id = ?", (seq_a, b))
        conn.execute("UPDATE messages SET seq = ? WHERE id = ?", (seq_b, a))
    reordered = storecheck.check(rec, await server.read_store())
    assert reordered.out_of_order == 1
    assert not reordered.ok

    first = next(s for s in rec.sent.values() if s.deliveries)  # and a delivery that came twice
    first.deliveries.append(first.deliveries[0])
    assert storecheck.check(rec, []).duplicate_deliveries == 1


def test_quick_command_writes_its_figures_and_passes_its_store_check(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    docs = tmp_path / "performance.md"
    docs.write_text("# Performance\n\nbefore\n\n<!-- bench:begin -->\nold\n<!-- bench:end -->\n\nafter\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            *QUICK,
            "--backend",
            "sqlite",
            "--idle",
            "30",
            "--extra",
            "5",
            "--json",
            str(out),
            "--docs",
            str(docs),
            "--plot",
            str(tmp_path / "latency.png"),
        ],
        cwd=servers.REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    runs = json.loads(out.read_text())["runs"]
    assert runs[0]["sqlite"]["idle"]["connected"] == 30 and runs[0]["relay"]["idle"]["resumed"] == 35
    text = docs.read_text()
    assert "old" not in text and "before" in text and "after" in text and "× relay" in text
    assert (tmp_path / "latency.png").stat().st_size > 1000
