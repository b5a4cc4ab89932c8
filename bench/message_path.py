"""Benchmark of the message path: minimaria-chat against a bare Starlette relay, in the same run.

For each server: C conversations, each a visitor socket sending M messages one after another (the next
after the previous ack: a closed loop, like a person typing fast), and one staff socket per 10
conversations (a busy console) that holds them and must receive every message. Reports messages per
second, p50/p99 ack latency (send → ack) and p50/p99 delivery latency (send → staff receives it).

    python -m bench.message_path [--conversations 50] [--messages 40] [--backend sqlite|postgres|both]
                                 [--encryption both|on|off]

``--encryption both`` (the default) runs minimaria-chat twice per backend with the same load: as
``minimaria serve`` (texts sealed with AES-256-GCM) and as ``bench/plain_server.py`` (the same server
with the cryptography taken out, same stored format), and prints the cost of encryption as a share of
throughput. The postgres backend needs the machine's PostgreSQL and Redis (creates and drops its own
database per run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import websockets

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    name: str
    messages: int
    seconds: float
    ack_ms: list[float]
    delivery_ms: list[float]
    server_cpu_s: float | None = None  # the server process's CPU time (user + system) during the load

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_us_per_msg(self) -> float | None:
        return None if self.server_cpu_s is None else 1e6 * self.server_cpu_s / self.messages

    def row(self) -> str:
        p = percentile
        return (
            f"| {self.name} | {self.messages / self.seconds:,.0f} | {p(self.ack_ms, 50):.1f} | {p(self.ack_ms, 99):.1f} "
            f"| {p(self.delivery_ms, 50):.1f} | {p(self.delivery_ms, 99):.1f} "
            f"| {'n/a' if self.cpu_us_per_msg is None else f'{self.cpu_us_per_msg:.0f}'} |"
        )


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(url: str, proc: subprocess.Popen[bytes], tries: int = 200) -> None:
    """Until ``url`` answers (every 50 ms, ``tries`` times), or the process has exited."""
    async with httpx.AsyncClient() as http:
        for _ in range(tries):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                await http.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise RuntimeError("server did not start")


@asynccontextmanager
async def process(args: list[str], env: dict[str, str], ready_url: str, cwd: str) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_ready(ready_url, proc)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


PER_STAFF = 10


async def run_load(name: str, visitors: list[tuple[str, str]], staff_sockets: list[websockets.ClientConnection],
                   messages: int) -> Result:
    """visitors: (url, hello-json) per conversation; the staff sockets together receive every message."""
    sent_at: dict[str, float] = {}
    ack_ms: list[float] = []
    delivery_ms: list[float] = []
    total = len(visitors) * messages
    done = asyncio.Event()

    async def staff_reader(staff_ws: websockets.ClientConnection) -> None:
        while len(delivery_ms) < total:
            frame = json.loads(await staff_ws.recv())
            if frame.get("type") == "msg" and frame.get("client_msg_id", frame.get("text")) in sent_at:
                key = frame.get("client_msg_id") or frame["text"]
                delivery_ms.append((time.perf_counter() - sent_at[key]) * 1000)
        done.set()

    async def visitor(url: str, hello_frame: str, n: int) -> None:
        async with websockets.connect(url, compression=None, max_queue=None) as ws:
            await ws.send(hello_frame)
            while json.loads(await ws.recv())["type"] != "welcome":
                pass
            for i in range(messages):
                cmid = f"{n}-{i}-{uuid.uuid4().hex[:6]}"
                sent_at[cmid] = time.perf_counter()
                await ws.send(json.dumps({"type": "msg", "client_msg_id": cmid, "text": cmid}))
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "ack" and frame["client_msg_id"] == cmid:
                        ack_ms.append((time.perf_counter() - sent_at[cmid]) * 1000)
                        break

    readers = [asyncio.create_task(staff_reader(s)) for s in staff_sockets]
    started = time.perf_counter()
    await asyncio.gather(*(visitor(url, h, n) for n, (url, h) in enumerate(visitors)))
    await asyncio.wait_for(done.wait(), 60)
    seconds = time.perf_counter() - started
    for reader in readers:
        reader.cancel()
    return Result(name, total, seconds, ack_ms, delivery_ms)


async def bench_relay(conversations: int, messages: int, workdir: str) -> Result:
    port = free_port()
    url = f"ws://127.0.0.1:{port}/ws"
    env = dict(os.environ)
    async with process([sys.executable, "-m", "bench.relay", str(port)], env, f"http://127.0.0.1:{port}/", str(Path.cwd())):
        staff = []
        for first in range(0, conversations, PER_STAFF):
            ws = await websockets.connect(url, compression=None, max_queue=None)
            await ws.send(json.dumps({"watch": [f"r{n}" for n in range(first, min(first + PER_STAFF, conversations))]}))
            await ws.recv()
            staff.append(ws)
        visitors = [(url, json.dumps({"room": f"r{n}"})) for n in range(conversations)]
        try:
            # The relay echoes the text; deliveries are keyed by text, which is the client_msg_id.
            return await run_load("bare Starlette relay", visitors, staff, messages)
        finally:
            for ws in staff:
                await ws.close()


async def bench_chat(conversations: int, messages: int, backend: str, workdir: str, encrypted: bool = True) -> Result:
    from chat.crypto.keyring import FileKeyRing

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = tempfile.mkdtemp(prefix=f"{backend}-{'on' if encrypted else 'off'}-", dir=workdir)  # a fresh database
    keys = Path(workdir) / "keys.json"
    FileKeyRing.create(keys)
    env = dict(os.environ, MINIMARIA_FRAMES_PER_SECOND="100000", MINIMARIA_FRAME_BURST="100000",
               # every bench visitor comes from 127.0.0.1: no per-client limits, no start ceiling
               MINIMARIA_STARTS_PER_CLIENT_PER_HOUR="0", MINIMARIA_STARTS_PER_MINUTE="0",
               MINIMARIA_RETURN_CODE_ATTEMPTS_PER_CLIENT_PER_MINUTE="0", MINIMARIA_LOG_LEVEL="WARNING",
               MINIMARIA_KEYS_FILE=str(keys), PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    dbname = None
    if backend == "postgres":
        import asyncpg

        dbname = f"minimaria_bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(PG_ADMIN)
        await conn.execute(f'CREATE DATABASE "{dbname}"')
        await conn.close()
        env |= {"MINIMARIA_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{dbname}",
                "MINIMARIA_REDIS_URL": "redis://127.0.0.1:6379/0", "MINIMARIA_BUS_PREFIX": f"bench-{dbname}"}
    minimaria = str(Path(sys.executable).with_name("minimaria"))
    password = "benchmark password"
    try:
        serve = [minimaria, "serve"] if encrypted else [sys.executable, "-m", "bench.plain_server"]
        args = [*serve, "--port", str(port), "--upgrade"]
        subprocess.run([minimaria, "db", "upgrade"], env=env, cwd=workdir, check=True, capture_output=True)
        staff_count = (conversations + PER_STAFF - 1) // PER_STAFF
        for k in range(staff_count):
            subprocess.run([minimaria, "staff", "add", f"bench{k}", "--role", "reception", "--team", "reception"],
                           input=password.encode(), env=env, cwd=workdir, check=True, capture_output=True)
        async with (
            process(args, env, base + "/healthz", workdir) as server,
            httpx.AsyncClient(base_url=base, headers={"Origin": base}) as http,
        ):
            sockets = []
            visitors = []
            for k in range(staff_count):
                http.cookies.clear()
                r = await http.post("/api/v1/staff/login", json={"username": f"bench{k}", "password": password})
                http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
                for _ in range(min(PER_STAFF, conversations - k * PER_STAFF)):
                    started = (await http.post("/api/v1/conversations", json={"role": "young"})).json()
                    await http.post(f"/api/v1/staff/conversations/{started['conversation_id']}/claim")
                    visitors.append((base.replace("http", "ws") + "/ws/visitor",
                                     json.dumps({"type": "hello", "token": started["visitor_token"]})))
                ws = await websockets.connect(base.replace("http", "ws") + "/ws/staff", origin=base,  # type: ignore[arg-type]
                                              additional_headers={"Cookie": f"mm_staff={http.cookies['mm_staff']}"},
                                              compression=None, max_queue=None)
                await ws.send(json.dumps({"type": "hello", "last_seq": {}}))
                while json.loads(await ws.recv())["type"] != "welcome":
                    pass
                sockets.append(ws)
            try:
                name = f"minimaria-chat ({backend}, {'encrypted' if encrypted else 'plaintext: bench/plain_server.py'})"
                cpu_before = cpu_seconds(server.pid)
                result = await run_load(name, visitors, sockets, messages)
                cpu_after = cpu_seconds(server.pid)
                if cpu_before is not None and cpu_after is not None:
                    result.server_cpu_s = cpu_after - cpu_before
                return result
            finally:
                for ws in sockets:
                    await ws.close()
    finally:
        if dbname:
            import asyncpg

            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            await conn.close()


def percentile(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100)[q - 1] if len(xs) > 1 else xs[0]


def pooled(runs: list[Result]) -> Result:
    """Several runs of one server as one: total messages over total time, all latencies together."""
    cpu = [r.server_cpu_s for r in runs]
    return Result(
        runs[0].name, sum(r.messages for r in runs), sum(r.seconds for r in runs),
        [x for r in runs for x in r.ack_ms], [x for r in runs for x in r.delivery_ms],
        None if None in cpu else sum(c for c in cpu if c is not None),
    )


def crypto_us(text_chars: int = 100) -> tuple[float, float]:
    """Microseconds for one ``envelope.seal`` and one ``envelope.open_`` of a message, in this process."""
    import timeit

    from chat.crypto import envelope
    from chat.service import keys

    dek, text = envelope.new_dek(), "x" * text_chars
    aad = keys.message_aad(str(uuid.uuid4()), 17, "visitor")
    blob = envelope.seal(dek, text, aad)
    n = 20_000
    seal = min(timeit.repeat(lambda: envelope.seal(dek, text, aad), number=n, repeat=5)) / n
    open_ = min(timeit.repeat(lambda: envelope.open_(dek, blob, aad), number=n, repeat=5)) / n
    return seal * 1e6, open_ * 1e6


def cost_table(pairs: list[tuple[str, Result, Result]]) -> list[str]:
    """Encrypted against plaintext, per backend: the cost of encryption as a share of throughput."""
    lines = [
        "| backend | msg/s encrypted | msg/s plaintext | throughput cost | ack p50 ms enc / plain "
        "| ack p99 ms enc / plain | server CPU µs/msg enc / plain |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend, on, off in pairs:
        cpu_on, cpu_off = on.cpu_us_per_msg, off.cpu_us_per_msg
        cpu = "n/a"
        if cpu_on is not None and cpu_off is not None:
            cpu = f"{cpu_on:.0f} / {cpu_off:.0f} ({100 * (cpu_on - cpu_off) / cpu_off:+.1f}%)"
        lines.append(
            f"| {backend} | {on.rate:,.0f} | {off.rate:,.0f} | {100 * (off.rate - on.rate) / off.rate:+.1f}% "
            f"| {percentile(on.ack_ms, 50):.1f} / {percentile(off.ack_ms, 50):.1f} "
            f"| {percentile(on.ack_ms, 99):.1f} / {percentile(off.ack_ms, 99):.1f} | {cpu} |"
        )
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--encryption", choices=["both", "on", "off"], default="both",
                        help="run minimaria-chat encrypted (on), through bench/plain_server.py (off), or both")
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs per server; with both, in alternating order (on, off, off, on, ...) so drift cancels")
    args = parser.parse_args()
    modes = {"both": [True, False], "on": [True], "off": [False]}[args.encryption]
    workdir = tempfile.mkdtemp(prefix="minimaria-bench-")
    pairs: list[tuple[str, Result, Result]] = []
    try:
        results = [await bench_relay(args.conversations, args.messages, workdir)]
        for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
            runs: dict[bool, list[Result]] = {mode: [] for mode in modes}
            for n in range(args.rounds):
                for encrypted in modes if n % 2 == 0 else modes[::-1]:
                    run = await bench_chat(args.conversations, args.messages, backend, workdir, encrypted)
                    run.name += f" #{len(runs[encrypted]) + 1}"
                    runs[encrypted].append(run)
                    results.append(run)
            if len(modes) == 2:
                pairs.append((backend, pooled(runs[True]), pooled(runs[False])))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{args.conversations} conversations × {args.messages} messages, closed loop, "
          f"one staff socket per {PER_STAFF} conversations\n")
    print("| server | msg/s | ack p50 ms | ack p99 ms | delivery p50 ms | delivery p99 ms | server CPU µs/msg |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(r.row())
    print()
    for r in results[1:]:
        print(f"{r.name}: {100 * r.rate / results[0].rate:.0f}% of the bare relay's throughput")
    if pairs:
        print(f"\nEncryption cost, {args.rounds} runs of each pooled; throughput cost = share of the plaintext "
              "server's msg/s lost (target: under 10%)\n")
        print("\n".join(cost_table(pairs)))
        seal_us, open_us = crypto_us()
        # Per message the server seals once (in the group writer) and opens once per socket it delivers to:
        # here the sender's own echo and the staff socket.
        per_msg = seal_us + 2 * open_us
        cpu = [on.cpu_us_per_msg for _, on, _ in pairs if on.cpu_us_per_msg is not None]
        share = f" = {100 * per_msg / statistics.mean(cpu):.1f}% of the encrypted server's CPU per message" if cpu else ""
        print(f"\nAES-GCM alone (this process, 100-character text): seal {seal_us:.1f} µs, open {open_us:.1f} µs; "
              f"per message 1 seal + 2 opens = {per_msg:.1f} µs{share}")


if __name__ == "__main__":
    asyncio.run(main())
