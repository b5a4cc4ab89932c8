"""Benchmark: does a storm of staff logins slow the chat down? (issue 14, defect 1)

A real ``minimaria serve`` (SQLite, production argon2id cost) in its own process. A visitor's socket sends a
``ping`` every 20 ms and times each ``pong``: first with nothing else going on, then while 150 logins at 150
different names arrive at once (each one checked: the global ceiling is raised out of the way). Run twice:
with the argon2 semaphore (``MINIMARIA_LOGIN_CONCURRENCY``, default 2) and with it effectively off (1000).
Last, five wrong passwords at a real account against five at names that are no account: the times should
match, so a 401's duration does not tell which names exist.

    python -m bench.login_storm [--logins 150] [--concurrency 2,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import websockets

from bench.message_path import REPO, free_port, percentile, process

PASSWORD = "benchmark password"


@dataclass
class Run:
    concurrency: int
    idle: list[float]  # ping round-trips with nothing else going on, ms
    during: list[float]  # while the logins run
    storm_s: float
    statuses: dict[int, int]
    known: list[float]  # a wrong password at a real account, ms
    unknown: list[float]  # at a name that is no account


async def pinger(ws: websockets.ClientConnection, stop: asyncio.Event, every_s: float = 0.02) -> list[float]:
    """Ping until ``stop``; the round-trip of each, in ms."""
    times: list[float] = []
    while not stop.is_set():
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "ping"}))
        async with asyncio.timeout(60):
            while json.loads(await ws.recv())["type"] != "pong":
                pass
        times.append(1000 * (time.perf_counter() - sent))
        await asyncio.sleep(every_s)
    return times


async def timed_login(http: httpx.AsyncClient, username: str) -> tuple[int, float]:
    started = time.perf_counter()
    r = await http.post("/api/v1/staff/login", json={"username": username, "password": "not the password"})
    return r.status_code, 1000 * (time.perf_counter() - started)


async def run(concurrency: int, logins: int, workdir: str) -> Run:
    from chat.crypto.keyring import FileKeyRing

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = tempfile.mkdtemp(prefix=f"login-{concurrency}-", dir=workdir)
    keys = Path(workdir) / "keys.json"
    FileKeyRing.create(keys)
    env = dict(os.environ, MINIMARIA_LOG_LEVEL="WARNING", MINIMARIA_FRAMES_PER_SECOND="100000",
               MINIMARIA_FRAME_BURST="100000", MINIMARIA_KEYS_FILE=str(keys),
               MINIMARIA_DATABASE_URL=f"sqlite+aiosqlite:///{workdir}/bench.db",
               MINIMARIA_LOGIN_CONCURRENCY=str(concurrency), MINIMARIA_LOGIN_QUEUE_TIMEOUT_S="120",
               MINIMARIA_LOGIN_GLOBAL_FAILURES_PER_MINUTE="100000",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    minimaria = str(Path(sys.executable).with_name("minimaria"))
    subprocess.run([minimaria, "db", "upgrade"], env=env, cwd=workdir, check=True, capture_output=True)
    subprocess.run([minimaria, "staff", "add", "bench", "--role", "supervisor"], input=PASSWORD.encode(), env=env,
                   cwd=workdir, check=True, capture_output=True)
    args = [minimaria, "serve", "--port", str(port)]
    async with (
        process(args, env, base + "/healthz", workdir),
        httpx.AsyncClient(base_url=base, headers={"Origin": base}, timeout=180,
                          limits=httpx.Limits(max_connections=logins + 10)) as http,
    ):
        started = (await http.post("/api/v1/conversations", json={"role": "young"})).json()
        async with websockets.connect(base.replace("http", "ws") + "/ws/visitor", compression=None) as ws:
            await ws.send(json.dumps({"type": "hello", "token": started["visitor_token"]}))
            while json.loads(await ws.recv())["type"] != "welcome":
                pass
            await timed_login(http, "warm-up")  # the dummy hash is made on first use
            stop = asyncio.Event()
            quiet = asyncio.create_task(pinger(ws, stop))
            await asyncio.sleep(1.0)
            stop.set()
            idle = await quiet

            stop = asyncio.Event()
            busy = asyncio.create_task(pinger(ws, stop))
            began = time.perf_counter()
            storm = await asyncio.gather(*(timed_login(http, f"storm{i}") for i in range(logins)))
            storm_s = time.perf_counter() - began
            stop.set()
            during = await busy

        known = [(await timed_login(http, "bench"))[1] for _ in range(5)]
        unknown = [(await timed_login(http, f"nobody{i}"))[1] for i in range(5)]
    return Run(concurrency, idle, during, storm_s, dict(Counter(status for status, _ in storm)), known, unknown)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logins", type=int, default=150)
    parser.add_argument("--concurrency", default="2,1000", help="comma-separated MINIMARIA_LOGIN_CONCURRENCY values")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="login-storm-") as workdir:
        results = [await run(int(c), args.logins, workdir) for c in args.concurrency.split(",")]
    print(f"{args.logins} parallel logins at different names; a visitor pings every 20 ms (round-trip in ms)\n")
    print("| argon2 at once | ping p50 idle | ping max idle | ping p50 during | ping max during | storm s | answers |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r.concurrency} | {percentile(r.idle, 50):.1f} | {max(r.idle):.1f} | {percentile(r.during, 50):.1f} "
              f"| {max(r.during):.1f} | {r.storm_s:.1f} | {r.statuses} |")
    print("\nA wrong password, 5 each after the storm (ms, median): a real account vs a name that is no account")
    for r in results:
        print(f"- argon2 at once {r.concurrency}: account {statistics.median(r.known):.0f}, "
              f"no account {statistics.median(r.unknown):.0f}")


if __name__ == "__main__":
    asyncio.run(main())
