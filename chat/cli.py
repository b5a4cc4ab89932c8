"""The ``minimaria`` command: serve, db upgrade, staff add, keys, retention, audit, config check.

``Settings.from_env(os.environ)`` runs here, once, and is passed down.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import json
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from chat import logs
from chat.errors import ChatError, Code
from chat.service.context import Context, LiveRegion
from chat.settings import Settings, SettingsError
from triage import ConfigError, Region, load_region

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

def demo_staff(region: Region) -> list[tuple[str, str, list[str], list[str]]]:
    """The demo accounts: reception and a supervisor on the default team, an admin, and one member of every
    other team (username = the team's id; the first of them also a lead, who edits the team's canned answers),
    so each queue, offer, transfer and admin page can be tried by hand."""
    accounts = [
        ("reception", "Reception (demo)", ["reception"], [region.default_team]),
        ("supervisor", "Supervisor (demo)", ["supervisor", "reception"], [region.default_team]),
        ("admin", "Admin (demo)", ["admin"], []),
    ]
    for team in region.teams:
        if team.id == region.default_team or team.id in {"reception", "supervisor", "admin"}:
            continue
        role = "ambulant" if team.kind == "ambulant" else "counsellor"
        lead = ["lead"] if len(accounts) == 3 else []
        accounts.append((team.id, f"{team.name.split(' (')[0]} (demo)", [role, *lead], [team.id]))
    return accounts


KEYS_HINT = (
    "minimaria: without the key file this database was written with, no transcript can be read. Point "
    "MINIMARIA_KEYS_FILE at it, or restore it from its own backup (docs/operations.md, \"Key file lost\")."
)


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except SettingsError as err:
        sys.exit(f"minimaria: {err}")


def _region(settings: Settings) -> Region:
    try:
        return load_region(settings.region_config)
    except (ConfigError, OSError) as err:
        problems = err.problems if isinstance(err, ConfigError) else [str(err)]
        sys.exit("minimaria: the region config is invalid:\n  " + "\n  ".join(problems))


def _upgrade(settings: Settings) -> None:
    from chat.app import make_keyring
    from chat.crypto.keyring import KeyError_
    from chat.store.migrate import upgrade

    try:  # the keys are read only by a migration that seals existing rows (0013)
        upgrade(settings.database_url, keys=lambda: make_keyring(settings))
    except KeyError_ as err:
        sys.exit(f"minimaria: encryption keys: {err}")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from chat.app import create_app, uvicorn_config

    settings = _settings()
    logs.setup(settings.log_level)
    region = _region(settings)
    if settings.is_sqlite or args.upgrade:
        _upgrade(settings)
    if args.demo:
        asyncio.run(_demo_staff(settings, region))
    from chat.crypto.keyring import KeyError_

    try:
        app = create_app(settings, region)
    except KeyError_ as err:
        sys.exit(f"minimaria: encryption keys: {err}\n{KEYS_HINT}")
    config = uvicorn_config(app, settings, args.host, args.port)
    print(f"minimaria: serving on http://{args.host}:{args.port}/ (staff console: /staff)", flush=True)
    # uvicorn shuts down gracefully on SIGTERM (sockets get 1012), then raises the signal again with the
    # handler that was there before it: make that a clean exit 0, so supervisors do not see a crash.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.Server(config).run()


@asynccontextmanager
async def _context(settings: Settings, region: Region) -> AsyncIterator[Context]:
    """The services' Context for a one-off command (no bus traffic, no background tasks)."""
    from chat.app import make_bus, make_keyring
    from chat.crypto.envelope import DekCache
    from chat.store.db import create_engine
    from chat.store.writer import MessageWriter

    engine = create_engine(settings.database_url)
    try:
        yield Context(
            settings=settings, engine=engine, bus=make_bus(settings), live_region=LiveRegion(region),
            writer=MessageWriter(engine),
            keys=make_keyring(settings), deks=DekCache(),
        )
    finally:
        await engine.dispose()


async def _demo_staff(settings: Settings, region: Region) -> None:
    from chat.service import accounts, demo
    from chat.store import admin as admin_store

    async with _context(settings, region) as ctx:
        print("minimaria: demo staff accounts (passwords change at every --demo start):", flush=True)
        for username, name, roles, teams in demo_staff(region):
            password = secrets.token_urlsafe(9)
            try:
                await accounts.add_staff(ctx, username, password, roles, teams, name)
            except ChatError:
                await accounts.set_password(ctx, username, password)
                found = await admin_store.account(ctx.engine, username)
                if found is not None and (found.roles, found.teams) != (roles, teams):  # older demo: give new roles
                    await admin_store.change(ctx.engine, found.id, {"roles": roles, "teams": teams})
            print(f"  {username:<12} {password}   ({', '.join(roles)})", flush=True)
        admin = await admin_store.account(ctx.engine, "admin")
        added = await demo.seed_canned(ctx, admin.id if admin is not None else None)
        print(f"minimaria: demo canned answers: {added} added (teams {', '.join(demo.demo_teams(region))})", flush=True)


def cmd_db_upgrade(_args: argparse.Namespace) -> None:
    settings = _settings()
    _upgrade(settings)
    print("minimaria: database is up to date")


def cmd_staff_add(args: argparse.Namespace) -> None:
    from chat.service import accounts

    settings = _settings()
    region = _region(settings)
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            sys.exit("minimaria: the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if settings.is_sqlite:
        _upgrade(settings)

    async def add() -> int:
        async with _context(settings, region) as ctx:
            return await accounts.add_staff(ctx, args.username, password, args.role, args.team or [], args.name)

    try:
        staff_id = asyncio.run(add())
    except ChatError as err:
        hint = ""
        if err.code == Code.TEAM_REQUIRED:
            hint = f" Give one with --team TEAM (teams: {', '.join(t.id for t in region.teams)})."
        sys.exit(f"minimaria: {err.message}{hint}")
    print(f"minimaria: added {args.username} (id {staff_id})")


def _run_service(settings: Settings, use: Callable[[Context], Awaitable[T]]) -> T:
    """Run one service call in a fresh Context; a refusal or a key problem exits 1 with its message."""
    from chat.crypto.keyring import KeyError_

    if settings.is_sqlite:
        _upgrade(settings)

    async def run() -> T:
        async with _context(settings, _region(settings)) as ctx:
            return await use(ctx)

    try:
        return asyncio.run(run())
    except ChatError as err:
        sys.exit(f"minimaria: {err.message}")
    except KeyError_ as err:
        sys.exit(f"minimaria: encryption keys: {err}")


def cmd_keys_init(_args: argparse.Namespace) -> None:
    from chat.crypto.keyring import FileKeyRing

    settings = _settings()
    if settings.keys_json:
        sys.exit("minimaria: MINIMARIA_KEYS is set: the keys come from there, not from a key file")
    if settings.keys_file is None:
        sys.exit("minimaria: set MINIMARIA_KEYS_FILE to the path of the key file to create")
    try:
        ring = FileKeyRing.create(settings.keys_file)
    except FileExistsError:
        sys.exit(f"minimaria: {settings.keys_file} already exists; it is never overwritten")
    except OSError as err:
        sys.exit(f"minimaria: {settings.keys_file}: {err.strerror}")
    print(f"minimaria: created {settings.keys_file} (mode 0600) with primary key {ring.primary_id()}; back it up "
          "apart from the database: without it the transcripts cannot be read")


def cmd_keys_list(_args: argparse.Namespace) -> None:
    from chat.service import keys

    async def listing(ctx: Context) -> tuple[list[keys.KeyUse], list[keys.KeyProblem]]:
        return await keys.list_keys(ctx), await keys.check(ctx)

    used, problems = _run_service(_settings(), listing)
    wrong = {p.id for p in problems if p.reason == "wrong_key"}
    print(f"{'KEY':<8} {'PRIMARY':<8} CONVERSATIONS")
    for k in used:
        note = "" if k.in_ring else "   MISSING from the ring: these conversations cannot be read"
        if k.id in wrong:
            note = "   DOES NOT OPEN its data keys (a different key file?): these conversations cannot be read"
        print(f"{k.id:<8} {'yes' if k.primary else '':<8} {k.conversations}{note}")
    if problems:
        print(KEYS_HINT, file=sys.stderr)
        sys.exit(1)


def cmd_keys_rotate(_args: argparse.Namespace) -> None:
    from chat.service import keys

    settings = _settings()
    new = _run_service(settings, keys.rotate)
    print(f"minimaria: {new} is the new primary key; running servers pick it up within {settings.keys_reload_s:g} s. "
          "Existing data keys stay under their old key until `minimaria keys rewrap`.")


def cmd_keys_rewrap(args: argparse.Namespace) -> None:
    from chat.service import keys

    def progress(so_far: keys.RewrapResult) -> None:
        print(f"minimaria: rewrapped {so_far.rewrapped} so far", flush=True)

    done = _run_service(_settings(), lambda ctx: keys.rewrap(ctx, args.batch, progress))
    print(f"minimaria: rewrapped {done.rewrapped} data key(s) under {done.primary}", flush=True)
    if done.failed:
        sys.exit(f"minimaria: {done.failed} data key(s) could not be unwrapped (key missing from the ring, or a "
                 "damaged row) and stay as they were; see `minimaria keys list`")


def cmd_keys_retire(args: argparse.Namespace) -> None:
    from chat.service import keys

    _run_service(_settings(), lambda ctx: keys.retire(ctx, args.key_id))
    print(f"minimaria: retired {args.key_id}; it is no longer in the key file (older backups of the file still hold it)")


def cmd_retention_run(args: argparse.Namespace) -> None:
    from chat.service import retention

    settings = _settings()
    days = args.days if args.days is not None else settings.retention_days
    if days is None:
        sys.exit("minimaria: how many days to keep? Give --days N or set MINIMARIA_RETENTION_DAYS")

    def progress(so_far: int) -> None:
        print(f"minimaria: shredded {so_far} so far", flush=True)

    n = _run_service(settings, lambda ctx: retention.run(ctx, days, args.batch, progress, always_audit=True))
    print(f"minimaria: shredded {n} conversation(s) closed more than {days} day(s) ago", flush=True)


def _read_database(settings: Settings, use: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run a read of the database alone: an auditor needs neither the key file nor the region, and nothing is
    migrated or written."""
    from sqlalchemy.exc import SQLAlchemyError

    from chat.store.db import create_engine

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            return await use(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except SQLAlchemyError as err:
        sys.exit(f"minimaria: the database cannot be read ({type(err).__name__}); is it upgraded (`minimaria db upgrade`)?")


def cmd_audit_verify(_args: argparse.Namespace) -> None:
    """Walk the audit chain: one line and exit 0 when intact, the first broken link on stderr and exit 1."""
    from chat.service import audit

    verdict = _read_database(_settings(), audit.verify)
    if not verdict.ok:
        print(f"minimaria: {verdict.summary()}", file=sys.stderr)
        sys.exit(1)
    print(f"minimaria: {verdict.summary()}")


def _date(raw: str) -> datetime:
    """A day (YYYY-MM-DD, midnight UTC) or an ISO time; a time without a zone is UTC."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a date (YYYY-MM-DD) or an ISO time") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _until(raw: str) -> datetime:
    """``--to``: a day means up to the end of that day; a time is exclusive."""
    value = _date(raw)
    return value + timedelta(days=1) if len(raw) == 10 else value


EXPORT_FIELDS = ("seq", "at", "staff_id", "username", "action", "conversation_id", "target", "target_name",
                 "prev_hash", "hash")


def cmd_audit_export(args: argparse.Namespace) -> None:
    """The audit entries with FROM <= at < TO, oldest first, to stdout: CSV with a header row, or one JSON
    array. Who (id and username), what, which conversation, when; never message text (the log holds none)."""
    from chat.service import audit
    from chat.store import staff as staff_store

    async def export(engine: AsyncEngine) -> int:
        names: dict[int, str] = {}
        out = sys.stdout
        writer = csv.writer(out, lineterminator="\n") if args.format == "csv" else None
        if writer is not None:
            writer.writerow(EXPORT_FIELDS)
        else:
            out.write("[")
        n = 0
        async for e in audit.entries(engine, args.since, args.until):
            if e.staff_id is not None and e.staff_id not in names:
                names.update(await staff_store.usernames(engine, [e.staff_id]))
            row = {"seq": e.seq, "at": e.at.astimezone(UTC).isoformat().replace("+00:00", "Z"), "staff_id": e.staff_id,
                   "username": names.get(e.staff_id) if e.staff_id is not None else None, "action": e.action,
                   "conversation_id": e.conversation_id, "target": e.target, "target_name": e.target_name,
                   "prev_hash": e.prev_hash, "hash": e.hash}
            if writer is not None:
                writer.writerow(["" if row[f] is None else row[f] for f in EXPORT_FIELDS])
            else:
                out.write(("," if n else "") + "\n" + json.dumps(row, ensure_ascii=False))
            n += 1
        if writer is None:
            out.write("\n]\n")
        return n

    _read_database(_settings(), export)


def cmd_config_check(args: argparse.Namespace) -> None:
    """Validate a region file (default: MINIMARIA_REGION_CONFIG, else the bundled Dalarna): every problem
    on its own line on stderr and exit 1, or one line saying what it holds."""
    path = Path(args.file) if args.file else _settings().region_config
    try:
        region = load_region(path)
    except ConfigError as err:
        print("\n".join(err.problems), file=sys.stderr)
        sys.exit(1)
    except OSError as err:
        print(f"{path}: {err.strerror}", file=sys.stderr)
        sys.exit(1)
    print(f"{path or 'dalarna.toml (bundled)'}: ok — {len(region.municipalities)} municipalities, "
          f"{len(region.teams)} teams, {len(region.rules)} rules")


def _at_least_zero(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _at_least_one(raw: str) -> int:
    value = _at_least_zero(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minimaria", description="MiniMaria chat service")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="create demo staff accounts and print their passwords")
    serve.add_argument("--upgrade", action="store_true", help="apply migrations first (always done on SQLite)")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    staff = sub.add_parser("staff", help="staff accounts").add_subparsers(dest="staff_command", required=True)
    add = staff.add_parser("add", help="add a staff member; password from the prompt or stdin")
    add.add_argument("username")
    add.add_argument("--role", action="append", required=True,
                     help="reception, counsellor, ambulant, lead, supervisor, admin, auditor")
    add.add_argument("--team", action="append", help="a team id from the region config (repeatable)")
    add.add_argument("--name", help="display name shown to visitors (default: the username)")
    add.set_defaults(func=cmd_staff_add)

    keys = sub.add_parser("keys", help="encryption key ring").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("init", help="create the key file MINIMARIA_KEYS_FILE (0600; never overwrites)").set_defaults(
        func=cmd_keys_init)
    keys.add_parser("list", help="each key, which is primary, how many conversations it wraps").set_defaults(
        func=cmd_keys_list)
    keys.add_parser("rotate", help="add a new primary key to the key file").set_defaults(func=cmd_keys_rotate)
    rewrap = keys.add_parser("rewrap", help="rewrap every data key under the primary key (online, resumable)")
    rewrap.add_argument("--batch", type=_at_least_one, default=500, help="conversations per transaction (default 500)")
    rewrap.set_defaults(func=cmd_keys_rewrap)
    retire = keys.add_parser("retire", help="remove a key that nothing references any more")
    retire.add_argument("key_id")
    retire.set_defaults(func=cmd_keys_retire)

    retention = sub.add_parser("retention", help="retention").add_subparsers(dest="retention_command", required=True)
    run = retention.add_parser("run", help="crypto-shred conversations closed more than N days ago")
    run.add_argument("--days", type=_at_least_zero, help="default: MINIMARIA_RETENTION_DAYS")
    run.add_argument("--batch", type=_at_least_one, default=500, help="conversations per transaction (default 500)")
    run.set_defaults(func=cmd_retention_run)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(dest="audit_command", required=True)
    audit.add_parser("verify", help="check the hash chain: exit 0 when intact, 1 with the first broken link"
                     ).set_defaults(func=cmd_audit_verify)
    export = audit.add_parser("export", help="the audit log for an auditor, to stdout")
    export.add_argument("--from", dest="since", type=_date, help="first day or time (inclusive, UTC)")
    export.add_argument("--to", dest="until", type=_until, help="last day (inclusive) or time (exclusive), UTC")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.set_defaults(func=cmd_audit_export)

    config = sub.add_parser("config", help="region config").add_subparsers(dest="config_command", required=True)
    check = config.add_parser("check", help="validate a region config (default: the configured or bundled one)")
    check.add_argument("file", nargs="?")
    check.set_defaults(func=cmd_config_check)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
