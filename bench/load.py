"""The message load: a window of un-acked messages per visitor, and an open loop at a fixed rate.

Both phases run against conversations whose staff sockets are open and must receive every message
(``servers.held_conversations``). A ``Recorder`` keeps, for every message the generator sent, when it
was due, which seq its ack carried and when each delivery reached a staff socket: the latencies come
from it, and so does the store check afterwards (``storecheck.py``).

- Window: each visitor keeps W messages un-acked (sends the next as soon as one is acked) for a given
  time; the rate is acked messages per second, up to the last ack.
- Open loop: each visitor sends on a fixed schedule so that together they offer R messages a second,
  whether or not earlier messages were acked. Latencies run from the *scheduled* send time, so a
  server (or a generator) that falls behind shows as queueing delay instead of being hidden by a
  sender that politely waits (coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

import websockets

from bench.servers import Conversation, Server, cpu_seconds

DRAIN_TIMEOUT_S = 60.0  # after the last send: how long acks and deliveries may take to arrive


@dataclass
class Sent:
    conversation: str
    order: int  # its place among its conversation's messages, in send order
    due: float  # perf_counter when it was (scheduled to be) sent
    ack_seq: int | None = None
    ack_at: float | None = None
    error: str | None = None
    deliveries: list[tuple[int, float]] = field(default_factory=list)  # (seq, perf_counter) per staff delivery


@dataclass
class Recorder:
    sent: dict[str, Sent] = field(default_factory=dict)  # by client_msg_id
    # Per staff socket and conversation, the seqs in the order they arrived (for the order check).
    arrivals: dict[tuple[int, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    next_order: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    acked: int = 0
    delivered: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, cmid: str, conversation: str, due: float) -> None:
        order = self.next_order[conversation]
        self.next_order[conversation] = order + 1
        self.sent[cmid] = Sent(conversation, order, due)

    def ack(self, frame: dict[str, object], now: float) -> None:
        sent = self.sent.get(str(frame.get("client_msg_id")))
        if sent is None:
            return
        if frame["type"] == "error":
            sent.error = str(frame.get("code"))
        elif sent.ack_seq is None:
            sent.ack_seq = int(frame["seq"])  # type: ignore[call-overload]
            sent.ack_at = now
            self.acked += 1
        self.changed.set()

    def deliver(self, staff: int, frame: dict[str, object], now: float) -> None:
        key = frame.get("client_msg_id") or frame.get("text")  # the relay echoes the text, which is the id
        sent = self.sent.get(str(key))
        if sent is None:
            return
        seq = int(frame["seq"])  # type: ignore[call-overload]
        sent.deliveries.append((seq, now))
        self.arrivals[(staff, sent.conversation)].append(seq)
        if len(sent.deliveries) == 1:
            self.delivered += 1
        self.changed.set()

    async def settle(self, cmids: set[str], drain: float = DRAIN_TIMEOUT_S) -> None:
        """Wait until every message in ``cmids`` was acked (or refused) and delivered, or ``drain`` s passed."""
        deadline = time.perf_counter() + drain
        while time.perf_counter() < deadline:
            pending = [c for c in cmids if (s := self.sent[c]).error is None and (s.ack_seq is None or not s.deliveries)]
            if not pending:
                return
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - time.perf_counter()))
            except TimeoutError:
                return


def percentile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=1000, method="inclusive")[round(q * 10) - 1]


@dataclass
class PhaseResult:
    sent: int
    acked: int
    refused: int
    seconds: float
    ack_p50_ms: float | None
    ack_p99_ms: float | None
    delivery_p50_ms: float | None
    delivery_p99_ms: float | None
    server_cpu: float  # share of one core the server used during the phase
    generator_cpu: float  # share of one core this (generator) process used

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds > 0 else 0.0


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summarize(rec: Recorder, cmids: set[str], started: float, cpu0: tuple[float, float], server: Server) -> PhaseResult:
    """Rate = acked messages over the time from the first send to the last ack."""
    sent = [rec.sent[c] for c in cmids]
    acks = [s.ack_at for s in sent if s.ack_at is not None]
    finish = max(acks, default=time.perf_counter())
    wall = max(1e-9, time.perf_counter() - started)
    ms = [(s.ack_at - s.due) * 1000 for s in sent if s.ack_at is not None]
    dms = [(s.deliveries[0][1] - s.due) * 1000 for s in sent if s.deliveries]
    return PhaseResult(
        sent=len(sent),
        acked=len(acks),
        refused=sum(1 for s in sent if s.error),
        seconds=finish - started,
        ack_p50_ms=percentile(ms, 50),
        ack_p99_ms=percentile(ms, 99),
        delivery_p50_ms=percentile(dms, 50),
        delivery_p99_ms=percentile(dms, 99),
        server_cpu=(cpu_seconds(server.pid) - cpu0[0]) / wall,
        generator_cpu=(_own_cpu() - cpu0[1]) / wall,
    )


class Load:
    """Visitor and staff sockets of one server, open for the message phases of one run."""

    def __init__(
        self,
        server: Server,
        conversations: list[Conversation],
        staff: list[websockets.ClientConnection],
        tag: str,
        drain: float = DRAIN_TIMEOUT_S,
    ) -> None:
        self.server, self.conversations, self.staff, self.tag = server, conversations, staff, tag
        self.rec = Recorder()
        self.drain = drain
        self.visitors: list[websockets.ClientConnection] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.wake: list[asyncio.Event] = []
        self.count = 0

    async def __aenter__(self) -> Load:
        for conv in self.conversations:
            ws = await websockets.connect(self.server.visitor_url, compression=None, max_queue=None)
            await ws.send(conv.hello)
            while json.loads(await ws.recv())["type"] != "welcome":
                pass
            self.visitors.append(ws)
        self.wake = [asyncio.Event() for _ in self.visitors]  # set when an answer to this visitor arrives
        self.tasks = [asyncio.create_task(self._visitor_reader(c, ws)) for c, ws in enumerate(self.visitors)]
        self.tasks += [asyncio.create_task(self._staff_reader(n, ws)) for n, ws in enumerate(self.staff)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in [*self.visitors, *self.staff]), return_exceptions=True)

    async def _visitor_reader(self, c: int, ws: websockets.ClientConnection) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "ack" or (frame["type"] == "error" and "client_msg_id" in frame):
                self.rec.ack(frame, time.perf_counter())
                self.wake[c].set()

    async def _staff_reader(self, n: int, ws: websockets.ClientConnection) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame["type"] == "msg":
                self.rec.deliver(n, frame, time.perf_counter())

    async def _send(self, c: int, due: float, mine: set[str]) -> str:
        self.count += 1
        cmid = f"{self.tag}-{c}-{self.count}"
        conv = self.conversations[c]
        self.rec.send(cmid, conv.key, due)
        mine.add(cmid)
        await self.visitors[c].send(json.dumps({"type": "msg", "client_msg_id": cmid, "text": cmid}))
        return cmid

    def _mark(self) -> tuple[float, tuple[float, float]]:
        return time.perf_counter(), (cpu_seconds(self.server.pid), _own_cpu())

    async def window(self, window: int, seconds: float) -> PhaseResult:
        """Each visitor keeps ``window`` messages un-acked for ``seconds``; then everything drains."""
        mine: set[str] = set()
        started, cpu0 = self._mark()
        stop = started + seconds

        async def visitor(c: int) -> None:
            outstanding: list[str] = []
            while time.perf_counter() < stop:
                outstanding = [m for m in outstanding if self.rec.sent[m].ack_seq is None and self.rec.sent[m].error is None]
                if len(outstanding) >= window:
                    wake = self.wake[c]
                    wake.clear()
                    try:
                        await asyncio.wait_for(wake.wait(), max(0.001, stop - time.perf_counter()))
                    except TimeoutError:
                        pass
                    continue
                outstanding.append(await self._send(c, time.perf_counter(), mine))

        await asyncio.gather(*(visitor(c) for c in range(len(self.conversations))))
        await self.rec.settle(mine, self.drain)
        return summarize(self.rec, mine, started, cpu0, self.server)

    async def open_loop(self, rate: float, seconds: float) -> PhaseResult:
        """Together the visitors offer ``rate`` messages a second for ``seconds``, acked or not."""
        mine: set[str] = set()
        n = len(self.conversations)
        interval = n / rate
        started, cpu0 = self._mark()
        start = started + 0.05
        end = start + seconds

        async def visitor(c: int) -> None:
            due = start + c / rate
            while due < end:
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._send(c, due, mine)
                due += interval

        await asyncio.gather(*(visitor(c) for c in range(n)))
        await self.rec.settle(mine, self.drain)
        return summarize(self.rec, mine, start, cpu0, self.server)
