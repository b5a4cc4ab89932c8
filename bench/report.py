"""The benchmark's results as a Markdown table and a latency-vs-rate plot, written into docs/performance.md.

Results are plain JSON-able dicts: ``runs[repeat][kind]`` with the keys ``window``, ``open`` (by rate),
``idle`` and ``check`` (see ``bench/__main__.py``). Every figure is reported as the median over the
repeats with its range, and for the service also as a ratio to the relay of the same repeat (median
and range of the per-repeat ratios), so machine noise that hits both in one run cancels.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
NAMES = {"relay": "bare relay", "sqlite": "embedded (SQLite, memory bus)", "postgres": "PostgreSQL + Redis"}
GENERATOR_BOUND = 0.9  # the generator used this share of its core or more: it may be the limit, not the server

Run = dict[str, dict[str, Any]]
Getter = Callable[[dict[str, Any]], float | None]


def _fmt(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def spread(values: list[float]) -> str:
    """median (min–max); just the value when there is one."""
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1 or min(values) == max(values):
        return _fmt(med)
    return f"{_fmt(med)} ({_fmt(min(values))}–{_fmt(max(values))})"


def _values(runs: list[Run], kind: str, get: Getter) -> list[float]:
    out = []
    for run in runs:
        if kind in run:
            try:
                v = get(run[kind])
            except (KeyError, TypeError):
                v = None
            if v is not None:
                out.append(v)
    return out


def _ratios(runs: list[Run], kind: str, get: Getter) -> list[float]:
    out = []
    for run in runs:
        if kind in run and "relay" in run:
            try:
                mine, base = get(run[kind]), get(run["relay"])
            except (KeyError, TypeError):
                continue
            if mine is not None and base:
                out.append(mine / base)
    return out


def _open(rate: int, name: str) -> Getter:
    """A figure of the open-loop run at ``rate``."""
    return lambda r: r["open"][str(rate)][name]


def _after_storm(r: dict[str, Any]) -> float | None:
    idle = r["idle"]
    return idle["kib_per_socket_after_storm"] if idle["resumed"] else None  # nothing resumed: no figure


def figures(rates: list[int], idle_count: int, extra: int, window: int) -> list[tuple[str, Getter]]:
    rows: list[tuple[str, Getter]] = [
        (f"**max rate**, window {window} (msg/s)", lambda r: r["window"]["rate"]),
        ("ack p50 at max rate (ms)", lambda r: r["window"]["ack_p50_ms"]),
        ("ack p99 at max rate (ms)", lambda r: r["window"]["ack_p99_ms"]),
        ("delivery p99 at max rate (ms)", lambda r: r["window"]["delivery_p99_ms"]),
        ("server CPU at max rate (share of its core)", lambda r: r["window"]["server_cpu"]),
        ("generator CPU at max rate (share of its core)", lambda r: r["window"]["generator_cpu"]),
    ]
    for rate in rates:
        rows += [
            (f"open loop {rate:,}/s: acked/s", _open(rate, "rate")),
            (f"open loop {rate:,}/s: ack p50 (ms)", _open(rate, "ack_p50_ms")),
            (f"open loop {rate:,}/s: **ack p99** (ms)", _open(rate, "ack_p99_ms")),
            (f"open loop {rate:,}/s: delivery p50 (ms)", _open(rate, "delivery_p50_ms")),
            (f"open loop {rate:,}/s: delivery p99 (ms)", _open(rate, "delivery_p99_ms")),
        ]
    rows += [
        (f"{rates[-1]:,}/s: generator CPU (share of its core)", lambda r: r["open"][str(rates[-1])]["generator_cpu"]),
        (f"idle sockets open (of {idle_count:,} wanted; fewer: the cap stopped a step)", lambda r: r["idle"]["connected"]),
        ("**idle socket memory** (KiB per open socket)", lambda r: r["idle"]["kib_per_socket"]),
        ("starts of the idle conversations (per s)", lambda r: r["idle"]["start_per_s"]),
        ("hellos of the idle sockets (20 at once, per s)", lambda r: r["idle"]["hello_per_s"]),
        (f"starts with those waiting ({extra} more, per s)", lambda r: r["idle"]["end_start_per_s"]),
        (f"hellos with those waiting ({extra} more, per s)", lambda r: r["idle"]["end_hello_per_s"]),
        ("frames to each waiting socket while they join (per s)", lambda r: r["idle"]["pushes_per_socket_s"]),
        ("**reconnect storm**: sockets resumed (all at once)", lambda r: r["idle"]["resumed"]),
        ("reconnect storm: seconds until all resumed or the cap", lambda r: r["idle"]["storm_s"]),
        ("memory per resumed socket after the storm (KiB)", _after_storm),
    ]
    return rows


def table(runs: list[Run], kinds: list[str], rates: list[int], idle_count: int, extra: int, window: int) -> list[str]:
    head = ["figure"]
    for kind in kinds:
        head.append(NAMES[kind])
        if kind != "relay":
            head.append("× relay")
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for label, get in figures(rates, idle_count, extra, window):
        cells = [label]
        for kind in kinds:
            cells.append(spread(_values(runs, kind, get)))
            if kind != "relay":
                ratios = _ratios(runs, kind, get)
                cells.append(spread(ratios) + "×" if ratios else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def incomplete(runs: list[Run], kinds: list[str]) -> list[str]:
    """Steps that hit their time cap or messages refused: said out loud beside the table."""
    notes = []
    for n, run in enumerate(runs, 1):
        for kind in kinds:
            r = run.get(kind)
            if not r:
                continue
            idle = r.get("idle") or {"started": 0, "wanted": 0, "connected": 0, "end_starts": 0, "resumed": 0}
            who = f"run {n}, {NAMES[kind]}"
            if idle["started"] < idle["wanted"]:
                notes.append(f"{who}: only {idle['started']:,} of {idle['wanted']:,} conversations started within the cap")
            if idle["connected"] < idle["started"]:
                notes.append(f"{who}: only {idle['connected']:,} of {idle['started']:,} sockets said hello within the cap")
            if idle["resumed"] < idle["connected"] + idle["end_starts"]:
                notes.append(f"run {n}, {NAMES[kind]}: reconnect storm resumed {idle['resumed']:,} sockets within the cap")
            for why, count in sorted(idle.get("failures", {}).items()):
                notes.append(f"{who}: {count:,} × {why}")
            for phase in [r["window"], *r["open"].values()]:
                if phase["refused"] or phase["acked"] + phase["refused"] < phase["sent"]:
                    notes.append(
                        f"run {n}, {NAMES[kind]}: {phase['sent'] - phase['acked']:,} of {phase['sent']:,} "
                        f"messages not acked ({phase['refused']:,} refused)"
                    )
    return notes


def checks(runs: list[Run], kinds: list[str]) -> list[str]:
    lines = []
    for kind in kinds:
        cs = [run[kind]["check"] for run in runs if kind in run]
        acked = sum(c["acked"] for c in cs)
        lost = sum(c["lost"] for c in cs)
        late = sum(c["undelivered"] for c in cs)
        dup = sum(c["duplicated"] + c["duplicate_deliveries"] for c in cs)
        order = sum(c["out_of_order"] + c["delivered_out_of_order"] for c in cs)
        where = "deliveries only: the relay stores nothing" if kind == "relay" else "store and deliveries"
        lines.append(
            f"- {NAMES[kind]}: {acked:,} acked messages over {len(cs)} runs — lost **{lost}**, "
            f"duplicated **{dup}**, out of order **{order}** ({where}); acked but not delivered to staff "
            f"before the drain ended: {late}"
        )
    return lines


def generator_notes(runs: list[Run], kinds: list[str], rates: list[int]) -> list[str]:
    notes = []
    for kind in kinds:
        busy = _values(runs, kind, lambda r: r["window"]["generator_cpu"])
        if busy and statistics.median(busy) >= GENERATOR_BOUND:
            notes.append(
                f"{NAMES[kind]}: the generator used {statistics.median(busy):.0%} of its core at max rate — "
                "generator-bound, so this max rate is a floor for the server"
            )
        top = _values(runs, kind, lambda r: r["open"][str(rates[-1])]["generator_cpu"])
        if top and statistics.median(top) >= GENERATOR_BOUND:
            notes.append(f"{NAMES[kind]}: the generator used {statistics.median(top):.0%} of its core at {rates[-1]:,}/s")
    return notes


def plot(runs: list[Run], kinds: list[str], rates: list[int], path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    colors = {"relay": "tab:gray", "sqlite": "tab:blue", "postgres": "tab:orange"}
    for ax, what in zip(axes, ["ack", "delivery"], strict=True):
        for kind in kinds:
            for q, style in (("p50", "-"), ("p99", "--")):
                meds, lows, highs, xs = [], [], [], []
                for rate in rates:
                    vals = _values(runs, kind, _open(rate, f"{what}_{q}_ms"))
                    if vals:
                        med = statistics.median(vals)
                        xs.append(rate)
                        meds.append(med)
                        lows.append(med - min(vals))
                        highs.append(max(vals) - med)
                if xs:
                    ax.errorbar(
                        xs,
                        meds,
                        yerr=[lows, highs],
                        fmt=style + "o",
                        color=colors[kind],
                        capsize=3,
                        label=f"{NAMES[kind]} {q}",
                        markersize=4,
                    )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(rates, [f"{r:,}" for r in rates])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # only the measured rates are labelled
        ax.set_xlabel("offered rate, msg/s (open loop)")
        ax.set_title(f"{what} latency from the scheduled send")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms (median of runs, bars: range)")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_docs(doc: Path, section: str) -> None:
    """Replace what is between the markers (or append a section with them)."""
    text = doc.read_text() if doc.exists() else "# Performance\n"
    block = f"{BEGIN}\n{section.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _m: block, text, count=1, flags=re.DOTALL)
    else:
        text = text.rstrip() + "\n\n## Load generator (`python -m bench`)\n\n" + block + "\n"
    doc.write_text(text)
