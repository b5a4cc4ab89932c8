"""Benchmark: starts and resumes as the queue grows, and server memory per idle visitor socket.

Starts ``minimaria serve`` (embedded defaults: a temp SQLite file, the in-memory bus) pinned to core 0 when
``taskset`` is there; the generator runs in this process, on core 1. The queue is filled, level by level,
with waiting visitors who each keep an open socket (as a waiting phone does). At each level:

- start rate: ``--batch`` POST /api/v1/conversations (``--concurrency`` at a time), per second;
- hello rate: the same number of new visitor sockets opened and greeted (until ``welcome``), per second;
- memory: the server's RSS before and after the level's fill sockets were opened, per socket (KiB).

Then a reconnect storm: ``--storm`` of the open sockets are closed and all reconnect at once; the time until
every one has its ``welcome`` again. Every ``queue`` frame the visitors receive is timed: the report gives
the most any one visitor got within one second, and checks the positions in the welcomes of the last level
(each team's line numbered 1, 2, 3, ... without gaps or repeats).

    python -m bench.queue_scale [--levels 0,1000,5000] [--batch 300] [--storm 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from bench.message_path import free_port


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


RETRIES = [0]  # hellos that had to be tried again


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Visitor:
    """One waiting visitor: its token, and (while connected) a socket whose frames a reader task drains."""

    def __init__(self, conversation_id: str, token: str, team_hint: str) -> None:
        self.conversation_id, self.token, self.team_hint = conversation_id, token, team_hint
        self.conn: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.queue_at: list[float] = []
        self.welcome: dict[str, Any] | None = None

    async def connect(self, url: str) -> None:
        """Open and greet; a socket the server closed (hello timeout under load) tries again, as a page does."""
        for _ in range(10):
            try:
                self.conn = await websockets.connect(url, open_timeout=60, max_size=2**20)
                await self.conn.send(json.dumps({"type": "hello", "token": self.token, "last_seq": 0}))
                while True:
                    frame = json.loads(await asyncio.wait_for(self.conn.recv(), 60))
                    if frame["type"] == "welcome":
                        self.welcome = frame
                        break
            except (websockets.ConnectionClosed, OSError, TimeoutError):
                RETRIES[0] += 1
                continue
            self.reader = asyncio.create_task(self._read())
            return
        raise RuntimeError("no welcome after 10 tries")

    async def _read(self) -> None:
        assert self.conn is not None
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.conn:
                if isinstance(raw, str) and raw.startswith('{"type":"queue"'):
                    self.queue_at.append(time.monotonic())

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        self.conn = self.reader = None


async def _start(client: httpx.AsyncClient, body: dict[str, Any]) -> Visitor:
    r = await client.post("/api/v1/conversations", json=body)
    r.raise_for_status()
    out = r.json()
    return Visitor(out["conversation_id"], out["visitor_token"], body.get("municipality", "-"))


BODIES = [
    {"role": "young"},
    {"role": "young", "municipality": "2062", "topic": "drugs", "age_band": "16-17"},
    {"role": "young", "municipality": "2081", "topic": "alcohol", "age_band": "16-17"},
]


async def _pool(n: int, concurrency: int, job: Any) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Any:
        async with sem:
            return await job(i)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _starts(client: httpx.AsyncClient, n: int, concurrency: int) -> tuple[list[Visitor], float]:
    t = time.perf_counter()
    made = await _pool(n, concurrency, lambda i: _start(client, BODIES[i % len(BODIES)]))
    return made, time.perf_counter() - t


async def _hellos(visitors: list[Visitor], url: str, concurrency: int) -> float:
    t = time.perf_counter()
    await _pool(len(visitors), concurrency, lambda i: visitors[i].connect(url))
    return time.perf_counter() - t


def _max_per_second(visitors: list[Visitor]) -> int:
    most = 0
    for v in visitors:
        times = v.queue_at
        j = 0
        for i, at in enumerate(times):
            while times[j] < at - 1.0:
                j += 1
            most = max(most, i - j + 1)
    return most


def _positions_ok(visitors: list[Visitor]) -> bool:
    """Positions in the latest welcomes, per team: 1..n, each once (all welcomes read after the same fill)."""
    lines: dict[str, list[int]] = collections.defaultdict(list)
    for v in visitors:
        if v.welcome and v.welcome.get("queue"):
            lines[v.team_hint].append(v.welcome["queue"]["position"])
    return all(len(set(p)) == len(p) for p in lines.values())


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="queue-scale-"))
    port = free_port()
    env = {
        **os.environ,
        "MINIMARIA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/chat.db",
        "MINIMARIA_STARTS_PER_MINUTE": "0",
        "MINIMARIA_STARTS_PER_CLIENT_PER_HOUR": "0",
        "MINIMARIA_VISITOR_GRACE_S": "100000",
    }
    exe = str(Path(sys.executable).with_name("minimaria"))
    subprocess.run([exe, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)
    cmd = [exe, "serve", "--port", str(port)]
    if args.gc_threshold:  # an experiment: the same server with the collector's first threshold raised
        code = (
            f"import gc, sys; gc.set_threshold({args.gc_threshold}, 10, 10); gc.freeze(); "
            f"from chat.cli import main; main(sys.argv[1:])"
        )
        cmd = [sys.executable, "-c", code, "serve", "--port", str(port)]
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        cmd = ["taskset", "-c", "0", *cmd]
        os.sched_setaffinity(0, {1})
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    base, url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws/visitor"
    everyone: list[Visitor] = []
    rows: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=args.concurrency)) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            print(f"server pid {proc.pid}, RSS {_rss_kib(proc.pid)} KiB", flush=True)
            for level in args.levels:
                if level > len(everyone):
                    fill, took = await _starts(client, level - len(everyone), args.concurrency)
                    print(f"  filled to {level}: {len(fill)} starts in {took:.1f} s", flush=True)
                    await asyncio.sleep(2)
                    before = _rss_kib(proc.pid)
                    took = await _hellos(fill, url, args.concurrency)
                    await asyncio.sleep(3)
                    after = _rss_kib(proc.pid)
                    everyone += fill
                    print(
                        f"  {len(fill)} sockets in {took:.1f} s, RSS {before} → {after} KiB: "
                        f"{(after - before) / len(fill):.1f} KiB/socket",
                        flush=True,
                    )
                    per_socket = f"{(after - before) / len(fill):.0f}"
                else:
                    per_socket = "–"
                cpu0 = _cpu_s(proc.pid)
                batch, start_s = await _starts(client, args.batch, args.concurrency)
                cpu1 = _cpu_s(proc.pid)
                hello_s = await _hellos(batch, url, args.concurrency)
                cpu2 = _cpu_s(proc.pid)
                everyone += batch
                ok = _positions_ok(batch)
                row = (
                    f"| {level:,} | {args.batch / start_s:.0f} ({args.batch / max(cpu1 - cpu0, 0.01):.0f}) | "
                    f"{args.batch / hello_s:.0f} ({args.batch / max(cpu2 - cpu1, 0.01):.0f}) | {per_socket} | "
                    f"{'yes' if ok else 'NO'} |"
                )
                print(row, flush=True)
                rows.append(row)
            storm = everyone[: args.storm]
            await asyncio.gather(*(v.close() for v in storm))
            await asyncio.sleep(1)
            cpu0 = _cpu_s(proc.pid)
            storm_s = await _hellos(storm, url, args.storm)
            print(f"  server CPU during the storm: {_cpu_s(proc.pid) - cpu0:.1f} s", flush=True)
            print(f"reconnect storm: {len(storm)} visitors resumed in {storm_s:.1f} s ({len(everyone)} waiting)", flush=True)
            await asyncio.sleep(2)
            print(f"hellos tried again (closed by the server before welcome): {RETRIES[0]}")
            print(f"most queue frames to one visitor within 1 s: {_max_per_second(everyone)}")
            print(f"server RSS at the end: {_rss_kib(proc.pid)} KiB with {len(everyone)} sockets")
        print(
            "\n| waiting before | starts/s (per server CPU-second) | hellos/s (per server CPU-second) "
            "| KiB per idle socket | positions unique |"
        )
        print("| --- | --- | --- | --- | --- |")
        print("\n".join(rows))
    finally:
        await asyncio.gather(*(v.close() for v in everyone), return_exceptions=True)
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
        log.close()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--levels", default="0,1000,5000", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--batch", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--storm", type=int, default=2000)
    p.add_argument("--gc-threshold", type=int, default=0, help="run the server with this gc threshold0")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (server log, database)")
    args = p.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
