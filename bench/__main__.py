"""``python -m bench``: the message path and idle sockets of minimaria-chat against a bare relay, same run.

Per repeat, for the bare relay and for ``minimaria serve`` (embedded SQLite + memory bus, and/or
PostgreSQL + Redis on a database it creates and drops), each server on one core and this generator on
the other:

1. max rate with a window of W un-acked messages per visitor (C conversations, staff sockets that hold
   them and must receive every message);
2. an open loop at fixed aggregate rates, latencies from the scheduled send time;
3. the store check: acked messages lost, duplicated, out of order (``storecheck.py``);
4. on a fresh server, N idle visitor sockets: memory per socket, starts, hellos, the reconnect storm.

Then medians and ranges over the repeats, each as a ratio to the relay of the same repeat, into
docs/performance.md (between the bench markers) and a latency-vs-rate plot beside it.

    python -m bench [--quick] [--repeat 3] [--backend sqlite|postgres|both] [--no-docs] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from bench import report, servers, storecheck
from bench.idle import idle
from bench.load import Load

DOCS = servers.REPO / "docs" / "performance.md"
PLOT = servers.REPO / "docs" / "performance-latency.png"


def options(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a short smoke run (small numbers, 1 repeat, docs untouched)")
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--conversations", type=int, default=50)
    p.add_argument("--window", type=int, default=10, help="un-acked messages per visitor in the max-rate run")
    p.add_argument("--window-seconds", type=float, default=10.0)
    p.add_argument("--rates", default="250,500,1000,2000", help="open-loop aggregate rates, msg/s")
    p.add_argument("--rate-seconds", type=float, default=10.0)
    p.add_argument("--idle", type=int, default=5000, help="idle visitor sockets")
    p.add_argument("--extra", type=int, default=200, help="starts and hellos measured with the idle ones waiting")
    p.add_argument("--cap", type=float, default=180.0, help="longest a start, hello or storm step may take (s)")
    p.add_argument("--skip-idle", action="store_true")
    p.add_argument("--no-docs", action="store_true", help="do not touch docs/performance.md and the plot")
    p.add_argument("--docs", type=Path, default=DOCS)
    p.add_argument("--plot", type=Path, default=PLOT)
    p.add_argument("--drain", type=float, default=60.0, help="after a phase's last send, longest wait for acks (s)")
    p.add_argument("--json", type=Path, help="also write the raw results here (after each server, so a stopped run keeps them)")
    p.add_argument("--from-json", type=Path, help="no run: write the docs and plot from results saved with --json")
    args = p.parse_args(argv)
    if args.quick:
        defaults = {
            "repeat": 1,
            "conversations": 10,
            "window_seconds": 1.5,
            "rates": "100,250",
            "rate_seconds": 1.5,
            "idle": 200,
            "extra": 20,
            "cap": 60.0,
        }
        for name, value in defaults.items():
            if getattr(args, name) == p.get_default(name):
                setattr(args, name, value)
        args.no_docs = args.no_docs or args.docs == DOCS
    args.rate_list = [int(r) for r in args.rates.split(",")]
    args.kinds = ["relay", *(["sqlite", "postgres"] if args.backend == "both" else [args.backend])]
    return args


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _server(kind: str, workdir: Path, staff: int) -> AbstractAsyncContextManager[servers.Server]:
    return servers.relay() if kind == "relay" else servers.chat(kind, workdir, staff)


async def message_phases(server: servers.Server, args: argparse.Namespace, tag: str) -> tuple[dict[str, Any], Load]:
    """The window and open-loop runs on one server; returns the results and the Load (its recorder)."""
    conversations, staff = await servers.held_conversations(server, args.conversations)
    async with Load(server, conversations, staff, tag, args.drain) as load:
        window = await load.window(args.window, args.window_seconds)
        log(
            f"  window {args.window}: {window.rate:,.0f} msg/s, ack p99 {_ms(window.ack_p99_ms)} ms, "
            f"generator CPU {window.generator_cpu:.0%}, server CPU {window.server_cpu:.0%}"
        )
        opened = {}
        for rate in args.rate_list:
            r = await load.open_loop(rate, args.rate_seconds)
            log(
                f"  open {rate}/s: acked {r.rate:,.0f}/s, ack p50/p99 {_ms(r.ack_p50_ms)}/{_ms(r.ack_p99_ms)} ms, "
                f"delivery p99 {_ms(r.delivery_p99_ms)} ms, generator CPU {r.generator_cpu:.0%}, server CPU {r.server_cpu:.0%}"
            )
            opened[str(rate)] = dataclasses.asdict(r) | {"rate": r.rate}
    return {"window": dataclasses.asdict(window) | {"rate": window.rate}, "open": opened}, load


async def one_server(kind: str, args: argparse.Namespace, workdir: Path, n: int) -> dict[str, Any]:
    log(f"run {n}: {report.NAMES[kind]}")
    staff = (args.conversations + servers.PER_STAFF - 1) // servers.PER_STAFF
    async with _server(kind, workdir / f"{kind}-{n}-load", staff) as server:
        result, load = await message_phases(server, args, f"{kind}{n}")
        rows = await server.read_store()
    found = storecheck.check(load.rec, rows, check_store=kind != "relay")
    log(f"  store check: {found.line()}")
    result["check"] = dataclasses.asdict(found)
    if not args.skip_idle:
        async with _server(kind, workdir / f"{kind}-{n}-idle", 0) as server:
            r = await idle(server, args.idle, args.extra, args.cap)
        log(
            f"  idle {r.connected:,}: {r.kib_per_socket:.1f} KiB/socket, starts {_ms(r.start_per_s)}/s, hello {r.hello_s:.1f} s, "
            f"storm {r.resumed:,} in {r.storm_s:.1f} s, at the end {_ms(r.end_start_per_s)}/s starts, "
            f"{r.end_hello_per_s:.0f}/s hellos"
        )
        result["idle"] = dataclasses.asdict(r) | {"start_per_s": r.start_per_s, "hello_per_s": r.hello_per_s}
    return result


def section(runs: list[report.Run], args: argparse.Namespace, command: str, started: str, load_avg: str) -> str:
    commit = args.commit
    kinds = args.kinds
    lines = [
        f"Generated by `{command}` on {started} (commit `{commit}`), {len(runs)} repeat(s)"
        f"{' (stopped early)' if args.stopped else ''}. "
        f"Load average at the start: {load_avg}.",
        "",
        f"Server on core {servers.SERVER_CORE}, generator on core {servers.GENERATOR_CORE}"
        f"{'' if servers.two_cores() else ' (NOT pinned: fewer than two cores)'}; encryption on. "
        f"{args.conversations} conversations, one staff socket per {servers.PER_STAFF}; max rate: window {args.window} for "
        f"{args.window_seconds:g} s; open loop: {args.rate_seconds:g} s per rate; idle: {args.idle:,} visitor sockets. "
        "Cells: median (min–max) over the repeats; × relay: the ratio to the relay of the same repeat (latency: "
        "above 1 is slower, memory: above 1 is more, rates: below 1 is fewer).",
        "",
        *report.table(runs, kinds, args.rate_list, args.idle, args.extra, args.window),
        "",
        f"![ack and delivery latency against the offered rate]({os.path.relpath(args.plot, args.docs.parent)})",
        "",
        "Store check after every run (acked messages read back from the database by client_msg_id and seq):",
        "",
        *report.checks(runs, kinds),
    ]
    notes = report.generator_notes(runs, kinds, args.rate_list) + report.incomplete(runs, kinds)
    if notes:
        lines += ["", "Caveats measured in this run:", "", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def save(args: argparse.Namespace, runs: list[report.Run]) -> None:
    if args.json:
        saved = {"argv": args.argv, "started": args.started, "load_avg": args.load_avg, "commit": args.commit, "runs": runs}
        args.json.write_text(json.dumps(saved, indent=1))


async def run(args: argparse.Namespace) -> list[report.Run]:
    """All repeats; SIGTERM or Ctrl-C stops after cleaning up (servers stopped, databases dropped) and keeps
    what finished."""
    servers.pin_generator()
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    runs: list[report.Run] = []
    try:
        with tempfile.TemporaryDirectory(prefix="minimaria-bench-") as tmp:
            for n in range(1, args.repeat + 1):
                runs.append({})
                for kind in args.kinds:
                    runs[-1][kind] = await one_server(kind, args, Path(tmp), n)
                    save(args, runs)
    except asyncio.CancelledError:
        log("stopped: reporting the runs that finished")
        args.stopped = True
    return [r for r in runs if r]


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    started = args.started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_avg = args.load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    args.stopped = False
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=servers.REPO, capture_output=True, text=True)
    args.commit = git.stdout.strip()
    args.argv = sys.argv[1:] if argv is None else argv
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        runs = saved["runs"]
        here = args
        args = options(saved["argv"])  # the figures' labels come from the options of the run that made them
        args.docs, args.plot, args.no_docs, args.stopped = here.docs, here.plot, here.no_docs, False
        args.commit = saved.get("commit", here.commit)
        command = "python -m bench " + shlex.join(saved["argv"])
        started = saved.get("started", started)
        load_avg = saved.get("load_avg", load_avg)
    else:
        try:
            runs = asyncio.run(run(args))
        except KeyboardInterrupt:
            return 130
        save(args, runs)
    text = section(runs, args, command.strip(), started, load_avg)
    print(text)
    if not args.no_docs:
        report.plot(runs, args.kinds, args.rate_list, args.plot)
        report.write_docs(args.docs, text)
        log(f"wrote {args.docs} and {args.plot}")
    failed = [kind for run in runs for kind, result in run.items() if not storecheck.StoreCheck(**result["check"]).ok]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
