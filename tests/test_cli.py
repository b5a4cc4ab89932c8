"""chat/cli.py: the `minimaria keys`, `minimaria retention`, `minimaria audit` and `minimaria config check` commands, run as real
processes on a temp SQLite file."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import shutil
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

import triage
from chat.app import create_app
from chat.crypto.envelope import DekCache
from chat.crypto.keyring import FileKeyRing
from chat.service import conversations
from chat.service.context import Context
from chat.settings import Settings
from chat.store import audit as audit_store
from chat.store.db import create_engine
from tests import cli
from tests.fault.procs import minimaria_cmd, service_env


@pytest.fixture
def settings(tmp_path: Path, sqlite_template: Path) -> Settings:
    db = tmp_path / "chat.db"
    shutil.copy(sqlite_template, db)
    return Settings(database_url=f"sqlite+aiosqlite:///{db}", keys_file=tmp_path / "keys.json", keys_reload_s=0.1)


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return cli.env_for(settings)


def _seed(settings: Settings, n: int, with_message: int = 0) -> list[str]:
    """``n`` conversations started through the service (DEKs under the current primary); the first
    ``with_message`` of them get one visitor message each."""

    async def seed() -> list[str]:
        ctx: Context = create_app(settings).state.ctx
        try:
            ids = [(await conversations.start(ctx, conversations.StartRequest(role="young"))).conversation.id
                   for _ in range(n)]
            for cid in ids[:with_message]:
                await conversations.post(ctx, cid, f"text of {cid}", "m1")
            return ids
        finally:
            await ctx.engine.dispose()

    return asyncio.run(seed())


def _replay_with_a_fresh_ring(settings: Settings, ids: list[str]) -> dict[str, list[str]]:
    """Every conversation's texts, read with the key file as it is now and no cached DEK."""

    async def replay() -> dict[str, list[str]]:
        ctx: Context = create_app(settings).state.ctx
        ctx = dataclasses.replace(ctx, keys=FileKeyRing(cli.key_file(settings)), deks=DekCache())
        try:
            return {cid: [m["text"] for m in await conversations.replay(ctx, cid, 0)] for cid in ids}
        finally:
            await ctx.engine.dispose()

    return asyncio.run(replay())


def test_keys_init_creates_a_private_key_file_and_never_overwrites_it(env: dict[str, str], settings: Settings) -> None:
    """`keys init` writes MINIMARIA_KEYS_FILE with mode 0600; a second run exits 1 and leaves it as it was."""
    out = cli.ok(cli.minimaria(env, "keys", "init"))
    path = cli.key_file(settings)
    assert "primary key k1" in out and stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    again = cli.minimaria(env, "keys", "init")
    assert again.returncode == 1 and "never overwritten" in again.stderr
    assert path.read_bytes() == before


def test_keys_from_the_environment_cannot_be_rotated_or_initialised(env: dict[str, str], settings: Settings) -> None:
    """With MINIMARIA_KEYS set, `keys rotate` and `keys init` exit 1 saying where the keys come from."""
    FileKeyRing.create(cli.key_file(settings))
    from_env = {**env, "MINIMARIA_KEYS": cli.key_file(settings).read_text()}
    rotate = cli.minimaria(from_env, "keys", "rotate")
    assert rotate.returncode == 1 and "MINIMARIA_KEYS" in rotate.stderr
    init = cli.minimaria(from_env, "keys", "init")
    assert init.returncode == 1 and "MINIMARIA_KEYS" in init.stderr
    assert cli.key_counts(cli.ok(cli.minimaria(from_env, "keys", "list"))) == {"k1": (True, 0)}


def test_rewrap_killed_midway_finishes_on_the_next_run(env: dict[str, str], settings: Settings) -> None:
    """A `keys rewrap` killed (SIGKILL) after its first batch leaves a consistent state; the next run rewraps the rest."""
    FileKeyRing.create(cli.key_file(settings))
    ids = _seed(settings, 300, with_message=3)
    cli.ok(cli.minimaria(env, "keys", "rotate"))

    with subprocess.Popen([*minimaria_cmd(), "keys", "rewrap", "--batch", "1"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert "so far" in proc.stdout.readline()  # the first batch is committed
        finally:
            proc.kill()
    left = cli.key_counts(cli.ok(cli.minimaria(env, "keys", "list")))
    assert 0 < left["k1"][1] < 300, "the kill did not land midway"
    assert left["k1"][1] + left["k2"][1] == 300

    out = cli.ok(cli.minimaria(env, "keys", "rewrap", "--batch", "50"))
    assert out.splitlines()[-1] == f"minimaria: rewrapped {left['k1'][1]} data key(s) under k2"
    assert cli.key_counts(cli.ok(cli.minimaria(env, "keys", "list"))) == {"k1": (False, 0), "k2": (True, 300)}
    texts = _replay_with_a_fresh_ring(settings, ids[:3])
    assert texts == {cid: [f"text of {cid}"] for cid in ids[:3]}


def test_retire_waits_until_running_servers_have_reread_the_key_file(env: dict[str, str], settings: Settings) -> None:
    """Right after a rotation, `keys retire` of the old key exits 1: servers re-read the file only every 60 s."""
    FileKeyRing.create(cli.key_file(settings))
    cli.ok(cli.minimaria(env, "keys", "rotate"))
    slow = {**env, "MINIMARIA_KEYS_RELOAD_S": "60"}
    refused = cli.minimaria(slow, "keys", "retire", "k1")
    assert refused.returncode == 1 and "try again in" in refused.stderr
    assert FileKeyRing(cli.key_file(settings)).ids() == ["k1", "k2"]


def test_retention_run_takes_days_from_the_flag_or_the_setting(env: dict[str, str], settings: Settings) -> None:
    """`retention run` without --days uses MINIMARIA_RETENTION_DAYS, and with neither exits 1 asking for one."""
    FileKeyRing.create(cli.key_file(settings))
    neither = cli.minimaria(env, "retention", "run")
    assert neither.returncode == 1 and "--days N or set MINIMARIA_RETENTION_DAYS" in neither.stderr
    from_setting = cli.ok(cli.minimaria({**env, "MINIMARIA_RETENTION_DAYS": "90"}, "retention", "run"))
    assert "closed more than 90 day(s) ago" in from_setting
    from_flag = cli.ok(cli.minimaria({**env, "MINIMARIA_RETENTION_DAYS": "90"}, "retention", "run", "--days", "30"))
    assert "closed more than 30 day(s) ago" in from_flag
    negative = cli.minimaria(env, "retention", "run", "--days", "-1")
    assert negative.returncode == 2 and "0 or more" in negative.stderr


def test_keys_list_counts_the_conversations_each_key_wraps(env: dict[str, str], settings: Settings) -> None:
    """`keys list` shows every key, marks the primary, and counts the DEKs under each."""
    FileKeyRing.create(cli.key_file(settings))
    _seed(settings, 3)
    cli.ok(cli.minimaria(env, "keys", "rotate"))
    _seed(settings, 2)
    out = cli.ok(cli.minimaria(env, "keys", "list"))
    assert out.splitlines()[0].split() == ["KEY", "PRIMARY", "CONVERSATIONS"]
    assert cli.key_counts(out) == {"k1": (False, 3), "k2": (True, 2)}


REGIONS = Path(triage.__file__).parent / "regions"


def _broken_region(tmp_path: Path) -> tuple[Path, list[str]]:
    """dalarna.toml with two mistakes, and the two lines `config check` must print for them."""
    path = tmp_path / "region.toml"
    text = (REGIONS / "dalarna.toml").read_text(encoding="utf-8")
    text = text.replace("capacity = 4", "capacity = 0").replace('team = "relatives"', 'team = "relative"')
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    capacity = lines.index("capacity = 0") + 1
    relative = [n + 1 for n, line in enumerate(lines) if line == 'team = "relative"']
    return path, [
        f'{path}:{capacity}: teams[1] "reception".capacity: must be at least 1, not 0',
        f'{path}:{relative[0]}: rules[3] "relatives".team: no team has the id "relative" (did you mean "relatives"?)',
        f'{path}:{relative[1]}: rules[5] "worried about someone in the family, 13 or older: the relatives\' support".team: '
        'no team has the id "relative" (did you mean "relatives"?)',
    ]


def test_config_check_says_what_a_valid_region_holds() -> None:
    """`config check FILE` prints one ok line with the counts; without FILE it checks the configured, else the bundled, one."""
    env = service_env()
    samla = REGIONS / "samla.toml"
    assert cli.ok(cli.minimaria(env, "config", "check", str(samla))) == f"{samla}: ok — 2 municipalities, 5 teams, 6 rules\n"
    assert cli.ok(cli.minimaria(env, "config", "check")) == "dalarna.toml (bundled): ok — 15 municipalities, 6 teams, 6 rules\n"
    configured = cli.ok(cli.minimaria(service_env(region_config=str(samla)), "config", "check"))
    assert configured.startswith(f"{samla}: ok")


def test_config_check_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    """Each problem on its own line on stderr, naming file, line and key; nothing on stdout; a missing file is one line."""
    path, expected = _broken_region(tmp_path)
    done = cli.minimaria(service_env(), "config", "check", str(path))
    assert (done.returncode, done.stdout, done.stderr.splitlines()) == (1, "", expected)
    missing = cli.minimaria(service_env(), "config", "check", str(tmp_path / "nope.toml"))
    assert (missing.returncode, missing.stderr) == (1, f"{tmp_path / 'nope.toml'}: No such file or directory\n")


def test_serve_refuses_an_invalid_region_with_the_same_messages(tmp_path: Path) -> None:
    """`serve` with MINIMARIA_REGION_CONFIG pointing at a broken file exits 1 listing what `config check` lists."""
    path, expected = _broken_region(tmp_path)
    env = service_env(region_config=str(path), database_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
    done = cli.minimaria(env, "serve", "--port", "0")
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["minimaria: the region config is invalid:", *(f"  {line}" for line in expected)]
    assert not (tmp_path / "chat.db").exists()


def test_staff_add_refuses_a_queue_role_without_a_team_and_adds_one_with_a_team(
    env: dict[str, str], settings: Settings
) -> None:
    """`staff add` without --team for a role that works a team's queue exits 1 saying why (that person
    would see an empty queue); with --team it adds them; a supervisor or an admin needs no team."""
    password = "a long enough password\n"

    def add(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*minimaria_cmd(), "staff", "add", *args], env=env, input=password, capture_output=True,
                              text=True, timeout=60, check=False)

    cli.ok(cli.minimaria(env, "keys", "init"))
    for role in ("reception", "counsellor", "ambulant", "lead"):
        refused = add(f"no-team-{role}", "--role", role)
        assert (refused.returncode, refused.stdout) == (1, "")
        assert refused.stderr == (f"minimaria: The role {role} needs at least one team; only supervisor and admin "
                                  "work without one. Give one with --team TEAM (teams: reception, north, south, "
                                  "children, relatives, gambling).\n")
    assert add("nils", "--role", "counsellor", "--team", "south").returncode == 0
    assert add("sara", "--role", "supervisor").returncode == 0
    assert add("root", "--role", "admin").returncode == 0


def _audit_entries(settings: Settings) -> list[tuple[int, str, str | None]]:
    async def read() -> list[tuple[int, str, str | None]]:
        engine = create_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT seq, action, target FROM audit_log ORDER BY seq"))
                return [(int(r[0]), str(r[1]), r[2]) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_key_management_and_retention_runs_are_audited_and_the_chain_verifies(
    env: dict[str, str], settings: Settings
) -> None:
    """`keys rotate`, `keys rewrap` and `retention run` each leave an audit entry (by the system), and
    `audit verify` then says the chain is intact, with exit 0."""
    FileKeyRing.create(cli.key_file(settings))
    cli.ok(cli.minimaria(env, "keys", "rotate"))
    cli.ok(cli.minimaria(env, "keys", "rewrap"))
    cli.ok(cli.minimaria(env, "retention", "run", "--days", "30"))

    assert _audit_entries(settings) == [(1, "key_rotated", "k2"), (2, "keys_rewrapped", "k2:0"),
                                        (3, "retention_run", "0")]
    assert cli.ok(cli.minimaria(env, "audit", "verify")) == "minimaria: audit chain intact: 3 entries, head at seq 3\n"


def test_audit_export_gives_the_entries_of_a_period_as_csv_or_json(env: dict[str, str], settings: Settings) -> None:
    """`audit export --from --to` writes the entries with at in [from, end of to], oldest first, with the
    hashes an auditor needs to re-check the chain; `--to` a day includes that whole day."""
    days = [datetime(2026, 11, d, 12, 0, tzinfo=UTC) for d in (1, 2, 3, 4)]

    async def seed() -> None:
        engine = create_engine(settings.database_url)
        try:
            for i, at in enumerate(days):
                await audit_store.append_entry(engine, None, "closed", f"conv-{i}", at, target="advice_given")
        finally:
            await engine.dispose()

    asyncio.run(seed())

    as_csv = cli.ok(cli.minimaria(env, "audit", "export", "--from", "2026-11-02", "--to", "2026-11-03"))
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert [(r["seq"], r["at"], r["action"], r["conversation_id"]) for r in rows] == [
        ("2", "2026-11-02T12:00:00Z", "closed", "conv-1"), ("3", "2026-11-03T12:00:00Z", "closed", "conv-2")]
    assert rows[1]["prev_hash"] == rows[0]["hash"] and rows[0]["username"] == ""
    as_json = json.loads(cli.ok(cli.minimaria(env, "audit", "export", "--from", "2026-11-03", "--format", "json")))
    assert [(e["seq"], e["staff_id"], e["target"]) for e in as_json] == [(3, None, "advice_given"),
                                                                         (4, None, "advice_given")]
    assert json.loads(cli.ok(cli.minimaria(env, "audit", "export", "--to", "2026-10-01", "--format", "json"))) == []
    bad = cli.minimaria(env, "audit", "export", "--from", "yesterday")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
