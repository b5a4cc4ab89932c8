"""What the small frames cost the server: a staff member's typing and read frames, and a message delivered to
several sockets of one conversation (the per-instance rendering).

One ``minimaria serve`` (SQLite, encryption on), one visitor and one staff member holding the conversation.

- typing: the staff socket sends N typing frames, each after the visitor received the previous one;
- read: the staff socket sends N read marks (each one new, so each is stored and told to the visitor);
- fan-out: the visitor writes N messages, each awaited on K extra staff sockets (a supervisor's tabs that
  follow the conversation) and on the holder's socket.

Reports, per frame, the wall time and the server's CPU time (user + system, from /proc).

    python -m bench.frame_costs [--frames 500] [--followers 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

from bench.message_path import REPO, cpu_seconds, free_port, process

PASSWORD = "benchmark password"


async def _staff_socket(base: str, http: httpx.AsyncClient, last_seq: dict[str, int]) -> websockets.ClientConnection:
    ws = await websockets.connect(base.replace("http", "ws") + "/ws/staff", origin=base,  # type: ignore[arg-type]
                                  additional_headers={"Cookie": f"mm_staff={http.cookies['mm_staff']}"},
                                  compression=None, max_queue=None)
    await ws.send(json.dumps({"type": "hello", "last_seq": last_seq}))
    while json.loads(await ws.recv())["type"] != "welcome":
        pass
    return ws


async def _until(ws: websockets.ClientConnection, kind: str, **match: object) -> dict[str, object]:
    while True:
        frame: dict[str, object] = json.loads(await ws.recv())
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


async def run(frames: int, followers: int) -> dict[str, tuple[float, float]]:
    from chat.crypto.keyring import FileKeyRing

    workdir = tempfile.mkdtemp(prefix="minimaria-frames-")
    keys = Path(workdir) / "keys.json"
    FileKeyRing.create(keys)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, MINIMARIA_FRAMES_PER_SECOND="100000", MINIMARIA_FRAME_BURST="100000",
               MINIMARIA_STARTS_PER_CLIENT_PER_HOUR="0", MINIMARIA_STARTS_PER_MINUTE="0", MINIMARIA_LOG_LEVEL="WARNING",
               MINIMARIA_KEYS_FILE=str(keys), PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    minimaria = str(Path(sys.executable).with_name("minimaria"))
    import subprocess

    subprocess.run([minimaria, "db", "upgrade"], env=env, cwd=workdir, check=True, capture_output=True)
    for name, role in (("holder", "reception"), ("boss", "supervisor")):
        subprocess.run([minimaria, "staff", "add", name, "--role", role, "--team", "reception"],
                       input=PASSWORD.encode(), env=env, cwd=workdir, check=True, capture_output=True)
    results: dict[str, tuple[float, float]] = {}
    async with (
        process([minimaria, "serve", "--port", str(port)], env, base + "/healthz", workdir) as server,
        httpx.AsyncClient(base_url=base, headers={"Origin": base}) as holder_http,
        httpx.AsyncClient(base_url=base, headers={"Origin": base}) as boss_http,
    ):
        r = await holder_http.post("/api/v1/staff/login", json={"username": "holder", "password": PASSWORD})
        holder_http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        await boss_http.post("/api/v1/staff/login", json={"username": "boss", "password": PASSWORD})
        started = (await holder_http.post("/api/v1/conversations", json={"role": "young"})).json()
        cid = started["conversation_id"]
        await holder_http.post(f"/api/v1/staff/conversations/{cid}/claim")
        visitor = await websockets.connect(base.replace("http", "ws") + "/ws/visitor", compression=None, max_queue=None)
        await visitor.send(json.dumps({"type": "hello", "token": started["visitor_token"]}))
        await _until(visitor, "welcome")
        staff = await _staff_socket(base, holder_http, {})
        watchers = [await _staff_socket(base, boss_http, {cid: 0}) for _ in range(followers)]

        async def measure(name: str, step: object) -> None:
            cpu, wall = cpu_seconds(server.pid), time.perf_counter()
            for n in range(frames):
                await step(n)  # type: ignore[operator]
            wall = time.perf_counter() - wall
            after = cpu_seconds(server.pid)
            results[name] = (1e6 * wall / frames, 1e6 * ((after or 0) - (cpu or 0)) / frames)

        async def typing(n: int) -> None:
            await staff.send(json.dumps({"type": "typing", "conversation_id": cid, "on": n % 2 == 0}))
            await _until(visitor, "typing", on=n % 2 == 0)

        async def message(n: int) -> None:
            await visitor.send(json.dumps({"type": "msg", "client_msg_id": f"m{n}", "text": f"meddelande {n}"}))
            for ws in (staff, *watchers):
                await _until(ws, "msg", client_msg_id=f"m{n}")

        async def read(n: int) -> None:
            await staff.send(json.dumps({"type": "read", "conversation_id": cid, "seq": n + 1}))
            await _until(visitor, "read", seq=n + 1)

        await measure("staff typing frame", typing)
        await measure(f"visitor message to {followers + 1} staff sockets", message)
        await measure("staff read frame", read)
        for ws in (visitor, staff, *watchers):
            await ws.close()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--followers", type=int, default=8)
    args = parser.parse_args()
    results = await run(args.frames, args.followers)
    print("| frame | wall µs/frame | server CPU µs/frame |")
    print("| --- | ---: | ---: |")
    for name, (wall, cpu) in results.items():
        print(f"| {name} | {wall:,.0f} | {cpu:,.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
