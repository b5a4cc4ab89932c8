"""A small harness for the fault tests: server processes, a private Redis, a fresh PostgreSQL database.

``Server`` runs ``minimaria serve`` as a subprocess (stdout and stderr each captured to a file, appended
across restarts), waits for ``GET /readyz`` to answer 200, and stops it with SIGTERM or SIGKILL.
``RedisServer`` runs a private ``redis-server`` that a test may kill and restart on the same port (the
machine's shared Redis is never touched). ``pg_database`` creates an empty database and drops it after.
``PostgresServer`` runs a private PostgreSQL (Debian's binaries, initdb into a temp dir) that a test may stop
and start again on the same port. ``Procs`` owns everything a test started and kills whatever is still running
at teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import pytest

from tests import services

READY_DEADLINE_S = 15.0
STOP_DEADLINE_S = 10.0
STAFF_PASSWORD = "fault-tolerant horse battery"


def minimaria_cmd() -> list[str]:
    """The venv's console script next to this interpreter, else ``python -m chat.cli``."""
    script = Path(sys.executable).with_name("minimaria")
    return [str(script)] if script.exists() else [sys.executable, "-m", "chat.cli"]


def service_env(**settings: str) -> dict[str, str]:
    """os.environ without stray MINIMARIA_* settings, plus these (``database_url=...`` → MINIMARIA_DATABASE_URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIMARIA_")}
    env.update({"MINIMARIA_" + k.upper(): v for k, v in settings.items()})
    env.setdefault("MINIMARIA_LOG_LEVEL", "INFO")
    # Tests send quickly; the default 5 frames/s would refuse some of their frames.
    env.setdefault("MINIMARIA_FRAMES_PER_SECOND", "50")
    env.setdefault("MINIMARIA_FRAME_BURST", "100")
    # Every test client comes from 127.0.0.1: lift the per-client visitor limits and the start ceiling.
    env.setdefault("MINIMARIA_RETURN_CODE_ATTEMPTS_PER_CLIENT_PER_MINUTE", "0")
    env.setdefault("MINIMARIA_STARTS_PER_CLIENT_PER_HOUR", "0")
    env.setdefault("MINIMARIA_STARTS_PER_MINUTE", "0")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (all bound at once, then released)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def unique_prefix() -> str:
    return f"mmfault-{uuid.uuid4().hex[:10]}"


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no output)"


async def _exited(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """Wait (without blocking the event loop) up to ``timeout`` for the process; its return code or None."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.02)
    return proc.returncode


async def run_cli(env: Mapping[str, str], *args: str, stdin: str = "", cwd: Path | None = None, timeout: float = 60) -> str:
    """Run ``minimaria ARGS`` to completion; fails the test with its output unless it exits 0. Returns stdout."""
    done = await asyncio.to_thread(
        subprocess.run, [*minimaria_cmd(), *args], input=stdin.encode(), env=dict(env), cwd=cwd,
        capture_output=True, timeout=timeout, check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"minimaria {' '.join(args)} exited {done.returncode}:\n{done.stdout.decode()}\n{done.stderr.decode()}")
    return done.stdout.decode()


async def db_upgrade(env: Mapping[str, str], cwd: Path | None = None) -> None:
    await run_cli(env, "db", "upgrade", cwd=cwd)


async def add_staff(
    env: Mapping[str, str], username: str, name: str, password: str = STAFF_PASSWORD, *, role: str = "reception",
    team: str = "reception", cwd: Path | None = None,
) -> None:
    """``minimaria staff add USERNAME --role ROLE --team TEAM --name NAME`` with the password on stdin."""
    await run_cli(env, "staff", "add", username, "--role", role, "--team", team, "--name", name, stdin=password + "\n", cwd=cwd)


class Server:
    """One ``minimaria serve`` process on a fixed port (so a restart comes back at the same address)."""

    def __init__(self, name: str, env: Mapping[str, str], workdir: Path, port: int | None = None, upgrade: bool = False) -> None:
        self.name = name
        self.env = dict(env)
        self.workdir = workdir
        self.port = port or services.free_port()
        self.upgrade = upgrade
        self.stderr_path = workdir / f"{name}.stderr.log"
        self.stdout_path = workdir / f"{name}.stdout.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._files: list[IO[bytes]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def launch(self) -> None:
        """Start the process (returns at once; ``ready()`` waits for it)."""
        assert not self.running, f"{self.name} is already running"
        self._close_files()
        args = [*minimaria_cmd(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.upgrade:
            args.append("--upgrade")
        out, err = self.stdout_path.open("ab"), self.stderr_path.open("ab")
        self._files = [out, err]
        self.proc = subprocess.Popen(
            args, env=self.env, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
        )

    async def ready(self, deadline_s: float = READY_DEADLINE_S) -> None:
        """Poll ``GET /readyz`` until 200; fail with the process's stderr if it exits or the deadline passes."""
        assert self.proc is not None
        deadline = time.monotonic() + deadline_s
        async with httpx.AsyncClient(base_url=self.base, timeout=1.0) as http:
            while True:
                if self.proc.poll() is not None:
                    pytest.fail(f"{self.name} exited with {self.proc.returncode} before it was ready:\n{_tail(self.stderr_path)}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/readyz")).status_code == 200:
                        return
                if time.monotonic() >= deadline:
                    self.kill()
                    pytest.fail(f"{self.name} was not ready within {deadline_s} s:\n{_tail(self.stderr_path)}")
                await asyncio.sleep(0.1)

    async def readyz(self) -> int:
        """The status of one ``GET /readyz`` (0 when nothing answers)."""
        async with httpx.AsyncClient(base_url=self.base, timeout=3.0) as http:
            try:
                return (await http.get("/readyz")).status_code
            except httpx.HTTPError:
                return 0

    async def readyz_burst(self, n: int) -> list[int]:
        """``n`` concurrent ``GET /readyz``: each one pings the database and the bus, so the pools grow to ``n``."""
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=self.base, timeout=5.0, limits=limits) as http:
            responses = await asyncio.gather(*(http.get("/readyz") for _ in range(n)), return_exceptions=True)
        return [r.status_code if isinstance(r, httpx.Response) else 0 for r in responses]

    async def until_unready(self, deadline_s: float = 10.0) -> None:
        """Poll ``GET /readyz`` until it answers 503 (a dependency is down); fail after the deadline."""
        deadline = time.monotonic() + deadline_s
        while (status := await self.readyz()) != 503:
            if time.monotonic() >= deadline:
                pytest.fail(f"{self.name} still answers /readyz with {status} after {deadline_s} s")
            await asyncio.sleep(0.1)

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines written to stderr so far (lines that are not JSON objects are skipped)."""
        out = []
        for raw in self.stderr().splitlines():
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                if isinstance(line, dict):
                    out.append(line)
        return out

    async def until_logged(self, event: str, deadline_s: float = 10.0, **fields: Any) -> dict[str, Any]:
        """Poll stderr until a log line with this event (and field values; callables are predicates) appears."""
        deadline = time.monotonic() + deadline_s

        def matches(line: dict[str, Any]) -> bool:
            if line.get("event") != event:
                return False
            return all(v(line.get(k)) if callable(v) else line.get(k) == v for k, v in fields.items())

        while True:
            for line in self.log_lines():
                if matches(line):
                    return line
            if time.monotonic() >= deadline:
                pytest.fail(f"{self.name} did not log {event} {fields} within {deadline_s} s:\n{_tail(self.stderr_path)}")
            await asyncio.sleep(0.05)

    async def start(self) -> Server:
        self.launch()
        await self.ready()
        return self

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float) -> int | None:
        """The exit code, or None if the process is still running after ``timeout`` seconds."""
        assert self.proc is not None
        code = await _exited(self.proc, timeout)
        if code is not None:
            self._close_files()
        return code

    async def terminate(self, timeout: float = STOP_DEADLINE_S) -> int:
        """SIGTERM and wait; SIGKILL if it does not stop in time (then the test fails). Returns the exit code."""
        self.signal(signal.SIGTERM)
        code = await self.wait(timeout)
        if code is None:
            self.kill()
            pytest.fail(f"{self.name} did not stop within {timeout} s of SIGTERM:\n{_tail(self.stderr_path)}")
        return code

    def kill(self) -> None:
        """SIGKILL and reap: the process is gone when this returns."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_DEADLINE_S)
        self._close_files()

    def _close_files(self) -> None:
        for f in self._files:
            f.close()
        self._files = []


def require_redis_server() -> None:
    """Skip without a ``redis-server`` binary to run privately; under CI that is a failure (as in tests/services.py)."""
    if shutil.which("redis-server"):
        return
    reason = "redis-server is not on PATH (needed for a private Redis the test can kill)"
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


class RedisServer:
    """A private redis-server (no persistence) on its own port; killed and restarted by the test."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or services.free_port()
        self.log_path = workdir / f"redis-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self, deadline_s: float = 10.0) -> RedisServer:
        assert self.proc is None or self.proc.poll() is not None, "redis is already running"
        self.proc = self._spawn()
        deadline = time.monotonic() + deadline_s
        while not await self.ping():
            if self.proc.poll() is not None:
                pytest.fail(f"redis-server exited with {self.proc.returncode}:\n{_tail(self.log_path)}")
            if time.monotonic() >= deadline:
                self.kill()
                pytest.fail(f"redis-server did not answer PING within {deadline_s} s:\n{_tail(self.log_path)}")
            await asyncio.sleep(0.05)
        return self

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._close_log()
        self._log = self.log_path.open("ab")
        return subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.workdir)],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    async def ping(self) -> bool:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 1.0)
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return await asyncio.wait_for(reader.readline(), 1.0) == b"+PONG\r\n"
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def kill(self) -> None:
        """SIGKILL and reap: no goodbye to the clients, the port is free when this returns."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_DEADLINE_S)
        self._close_log()

    async def restart(self) -> RedisServer:
        """Start again on the same port, empty (as after a crash without persistence)."""
        self.kill()
        return await self.start()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def pg_bin_dir() -> Path | None:
    """Debian's PostgreSQL server binaries (initdb, pg_ctl), newest version first; None when not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]), reverse=True)
    return Path(found[0]).parent if found else None


def require_pg_server() -> Path:
    """The bin directory of a PostgreSQL server to run privately; skip without one (a failure under CI)."""
    bin_dir = pg_bin_dir()
    if bin_dir is not None:
        return bin_dir
    reason = "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (needed for a private PostgreSQL to stop)"
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


class PostgresServer:
    """A private PostgreSQL in a temp dir on its own port, stopped and started by the test (never the shared one).

    initdb refuses to run as root: as root, the cluster belongs to the ``postgres`` account and every server
    command runs as it. The data directory lives outside pytest's (owner-only) temp dirs for that reason.
    """

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.bin = require_pg_server()
        self.port = port or services.free_port()
        self.log_path = workdir / f"postgres-{self.port}.log"
        self.root = Path(tempfile.mkdtemp(prefix="mmfault-pg-"))
        self.data = self.root / "data"
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres"
            owner = pwd.getpwnam(self._user)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.initialised = False

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of database ``minimaria`` on this server."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/minimaria"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def _run(self, *args: str, timeout: float = 60) -> None:
        done = await asyncio.to_thread(
            subprocess.run, [str(self.bin / args[0]), *args[1:]], user=self._user, cwd=self.root,
            capture_output=True, timeout=timeout, check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"{args[0]} exited {done.returncode}:\n{done.stdout.decode()}\n{done.stderr.decode()}\n"
                        f"{_tail(self.log_path)}")

    async def start(self, deadline_s: float = 30.0) -> PostgresServer:
        """initdb the first time, then start and wait until it accepts connections (``pg_ctl -w``)."""
        first = not self.initialised
        if first:
            await self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                            "--no-instructions")
            self.initialised = True
        # No Unix socket (its default directory may not be writable); fsync off: a stopped or killed server
        # keeps every commit in the kernel's page cache, which is all these tests take away.
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
        await self._run("pg_ctl", "start", "-w", "-t", str(int(deadline_s)), "-D", str(self.data), "-l",
                        str(self.root / "server.log"), "-o", options, timeout=deadline_s + 5)
        if first:
            conn = await asyncpg.connect(self.admin_dsn)
            try:
                await conn.execute('CREATE DATABASE "minimaria"')
            finally:
                await conn.close()
        return self

    async def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast`` (clients disconnected, clean shutdown) or ``immediate`` (as a crash)."""
        await self._run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data))

    def cleanup(self) -> None:
        """Stop it (immediately) if it runs and remove its files; copy its log next to the test's."""
        if self.initialised and (self.data / "postmaster.pid").exists():
            subprocess.run([str(self.bin / "pg_ctl"), "stop", "-m", "immediate", "-D", str(self.data)], user=self._user,
                           capture_output=True, timeout=30, check=False)
        with contextlib.suppress(OSError):
            shutil.copy(self.root / "server.log", self.log_path)
        shutil.rmtree(self.root, ignore_errors=True)


class Procs:
    """Everything one test started; ``cleanup()`` kills what still runs and reports the servers' stderr."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.servers: list[Server] = []
        self.redises: list[RedisServer] = []
        self.postgreses: list[PostgresServer] = []
        self._cleaned = False

    def server(self, name: str, env: Mapping[str, str], port: int | None = None, upgrade: bool = False) -> Server:
        s = Server(name, env, self.workdir, port, upgrade)
        self.servers.append(s)
        return s

    async def start_all(self, *servers: Server) -> None:
        """Launch several servers at once and wait until each is ready (they start in parallel)."""
        for s in servers:
            s.launch()
        async with asyncio.TaskGroup() as tg:  # one failing cancels the other waits
            for s in servers:
                tg.create_task(s.ready())

    async def redis(self) -> RedisServer:
        require_redis_server()
        r = RedisServer(self.workdir)
        self.redises.append(r)
        return await r.start()

    async def postgres(self) -> PostgresServer:
        pg = PostgresServer(self.workdir)
        self.postgreses.append(pg)
        return await pg.start()

    def cleanup(self) -> None:
        if self._cleaned:
            return
        self._cleaned = True
        for s in self.servers:
            s.kill()
        for r in self.redises:
            r.kill()
        for pg in self.postgreses:
            pg.cleanup()
        for s in self.servers:
            # Shown by pytest only when the test failed: the servers' side of the story.
            print(f"----- {s.name} stderr (tail) -----\n{_tail(s.stderr_path)}")


@contextlib.asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one test; dropped (WITH (FORCE)) afterwards. Yields its SQLAlchemy URL."""
    services.require_pg()
    name = f"minimaria_fault_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin_base = services.PG_ADMIN_DSN.rsplit("/", 1)[0]
    conn = await asyncpg.connect(services.PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield admin_base.replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + name
    finally:
        conn = await asyncpg.connect(services.PG_ADMIN_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def asyncpg_dsn(url: str) -> str:
    """The plain DSN asyncpg takes for an SQLAlchemy ``postgresql+asyncpg://`` URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
