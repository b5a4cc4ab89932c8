"""Continuous chat traffic across two instances for the fault tests, and the checks that nothing was lost.

``Traffic`` holds visitors and staff who chat without pause: every sender sends its next message only after
the ack of the previous one, and resends the same ``client_msg_id`` after an error frame, a closed socket or
silence, reconnecting (``hello`` with the last seq it saw) to whichever instance answers. Each ``Peer`` (one
person's socket) has a reader task that keeps every frame, so one staff socket can carry several
conversations at once. A ``Readiness`` monitor polls ``/readyz`` of each instance meanwhile.

After a fault, ``verify`` checks what the issue asks: every acked message is in the store exactly once with
the seq of its ack, the other side received it exactly once, and each socket saw seqs strictly in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from chat.crypto.keyring import FileKeyRing
from tests.client import Staff, Visitor
from tests.fault.procs import (
    STAFF_PASSWORD,
    Procs,
    Server,
    add_staff,
    asyncpg_dsn,
    db_upgrade,
    free_ports,
    service_env,
    unique_prefix,
)

ANSWER_S = 10.0  # a message not answered (ack, error frame or close) within this is a silent drop: a failure
CONNECT_S = 5.0
RETRY_S = 0.2
PACE_S = 0.15  # between a sender's acked message and its next one
PAGE_WELCOME_S = 10.0  # chat/static/js/socket.js: WELCOME_MS
PAGE_MAX_DELAY_S = 30.0  # chat/static/js/socket.js: MAX_DELAY_MS


@dataclass(frozen=True)
class Answer:
    kind: str  # "ack", "error", "closed", "silent"
    seq: int | None = None
    code: str | int | None = None


@dataclass(frozen=True)
class Acked:
    conversation_id: str
    side: str
    client_msg_id: str
    seq: int
    at: float  # when the ack arrived (monotonic)
    sent_at: float  # when the message was first sent: ``at - sent_at`` is its ack latency, resends included

    @property
    def latency(self) -> float:
        return self.at - self.sent_at


class Refused(Exception):
    """The instance did not say welcome (an error frame or a close instead)."""


class Peer:
    """One person's socket (a visitor's, or a staff member's carrying several conversations), reconnected as needed."""

    def __init__(
        self,
        name: str,
        side: str,
        bases: list[str],
        conversations: list[str],
        *,
        token: str | None = None,
        cookie: str | None = None,
        receive_buffer: int | None = None,
        like_the_page: bool = False,
    ) -> None:
        self.name, self.side, self.bases = name, side, bases
        self.receive_buffer = receive_buffer  # a small SO_RCVBUF: a stalled reader backs up to the server at once
        # Time out and back off as chat/static/js/socket.js does (welcome within 10 s, then a jittered exponential
        # pause up to 30 s), instead of the quick fixed retry the fault tests use to measure recovery.
        self.like_the_page = like_the_page
        self.attempt = 0
        self.conversations = conversations
        self.token, self.cookie = token, cookie
        self.at = 0  # which base it connects to now
        self.conn: ClientConnection | None = None
        self.received: dict[str, list[tuple[int, str, str]]] = {cid: [] for cid in conversations}  # (seq, from, cmid)
        self.drops: list[int | None] = []  # the close code of each socket that ended (None: no close frame)
        self.errors: Counter[str] = Counter()  # error frame codes received
        self.connects = 0
        self.welcome: dict[str, Any] | None = None  # the last welcome frame
        self.other_frames: Counter[str] = Counter()
        self._waiters: dict[str, asyncio.Future[Answer]] = {}
        self._lock = asyncio.Lock()
        self._readers: set[asyncio.Task[None]] = set()
        self._reading = asyncio.Event()
        self._reading.set()

    @property
    def base(self) -> str:
        return self.bases[self.at]

    @property
    def _open_s(self) -> float:
        return PAGE_WELCOME_S if self.like_the_page else CONNECT_S

    def stall(self) -> None:
        """Stop reading (the socket stays open): what the server sends piles up in its outbox."""
        self._reading.clear()

    def unstall(self) -> None:
        self._reading.set()

    def last_seen(self, cid: str) -> int:
        got = self.received[cid]
        return got[-1][0] if got else 0

    async def ensure(self) -> None:
        """Connected and greeted; tries the instances in turn, with a short pause between attempts."""
        async with self._lock:
            while self.conn is None:
                try:
                    await self._connect()
                except (OSError, TimeoutError, websockets.WebSocketException, Refused):
                    self.at = (self.at + 1) % len(self.bases)
                    self.attempt += 1
                    await asyncio.sleep(self._pause())
            self.attempt = 0

    def _pause(self) -> float:
        if not self.like_the_page:
            return RETRY_S
        return min(PAGE_MAX_DELAY_S, 0.5 * 2 ** (self.attempt - 1)) * (0.5 + random.random() / 2)  # noqa: S311

    async def _connect(self) -> None:
        url = self.base.replace("http", "ws", 1) + f"/ws/{self.side}"
        # No frame size limit: a staff queue_update lists every waiting conversation (over 1 MiB with 2,000).
        options: dict[str, Any] = {"max_size": None}
        if self.receive_buffer is not None:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
            sock.setblocking(False)
            host, port = urlsplit(url).hostname, urlsplit(url).port
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
            # Few frames buffered in the client library either: it stops reading the socket sooner.
            options |= {"sock": sock, "max_queue": 4}
        if self.side == "visitor":
            conn = await websockets.connect(url, open_timeout=self._open_s, **options)
            hello: dict[str, Any] = {"type": "hello", "token": self.token, "last_seq": self.last_seen(self.conversations[0])}
        else:
            conn = await websockets.connect(
                url,
                open_timeout=self._open_s,
                origin=self.base,  # type: ignore[arg-type]
                additional_headers={"Cookie": f"mm_staff={self.cookie}"},
                **options,
            )
            hello = {"type": "hello", "last_seq": {cid: self.last_seen(cid) for cid in self.conversations}}
        welcome: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiters["\0welcome"] = welcome
        reader = asyncio.create_task(self._read(conn), name=f"peer-{self.name}")
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)
        try:
            await conn.send(json.dumps(hello))
            answer = await asyncio.wait_for(welcome, PAGE_WELCOME_S if self.like_the_page else CONNECT_S)
        except BaseException:
            await conn.close()
            raise
        finally:
            self._waiters.pop("\0welcome", None)
        if answer.kind != "ack":
            await conn.close()
            raise Refused(answer)
        self.conn = conn
        self.connects += 1

    async def _read(self, conn: ClientConnection) -> None:
        try:
            async for raw in conn:
                await self._reading.wait()
                self._on_frame(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        finally:
            rcvd = conn.protocol.close_rcvd
            code = rcvd.code if rcvd is not None else None
            self.drops.append(code)
            if self.conn is conn:
                self.conn = None
            for key, waiter in list(self._waiters.items()):
                if not waiter.done():
                    waiter.set_result(Answer("closed", code=code))
                self._waiters.pop(key, None)

    def _resolve(self, key: str, answer: Answer) -> None:
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "msg":
            self.received.setdefault(frame["conversation_id"], []).append((frame["seq"], frame["from"], frame["client_msg_id"]))
        elif kind == "ack":
            self._resolve(frame["client_msg_id"], Answer("ack", seq=frame["seq"]))
        elif kind == "welcome":
            self.welcome = frame
            self._resolve("\0welcome", Answer("ack"))
        elif kind == "error":
            self.errors[frame["code"]] += 1
            self._resolve(frame.get("client_msg_id") or "\0welcome", Answer("error", code=frame["code"]))
        else:
            self.other_frames[kind] += 1

    async def send(self, cid: str, cmid: str, text: str) -> Answer:
        conn = self.conn
        if conn is None:
            return Answer("closed")
        waiter: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiters[cmid] = waiter
        frame: dict[str, Any] = {"type": "msg", "client_msg_id": cmid, "text": text}
        if self.side == "staff":
            frame["conversation_id"] = cid
        with contextlib.suppress(websockets.ConnectionClosed):
            await conn.send(json.dumps(frame))
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), ANSWER_S)
        except TimeoutError:
            self._waiters.pop(cmid, None)
            return Answer("silent")

    async def drop(self) -> None:
        """Close this socket from the client's side (as a page does when its socket went quiet)."""
        if self.conn is not None:
            await self.conn.close()

    async def aclose(self) -> None:
        await self.drop()
        for reader in list(self._readers):
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


@dataclass
class Sender:
    """One side of one conversation, sending without pause."""

    peer: Peer
    cid: str
    tag: str
    pace_s: float | None = None  # None: the traffic's pace
    text_size: int = 0  # pad each text to this many characters (with å: two bytes each in UTF-8)
    acked: list[Acked] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)  # "error:unavailable", "closed:1012", "silent", ...
    silent_after: list[float] = field(default_factory=list)  # when (monotonic) a message went unanswered


class Traffic:
    """Visitors and staff chatting across instances; run it, break something, stop it, verify."""

    def __init__(self, senders: list[Sender], peers: list[Peer], pace_s: float = PACE_S) -> None:
        self.senders, self.peers, self.pace_s = senders, peers, pace_s
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._chat(s), name=f"chat-{s.tag}") for s in self.senders]

    def add(self, sender: Sender, peer: Peer | None = None) -> None:
        """One more sender (and its peer, if new), running from now on."""
        if peer is not None:
            self.peers.append(peer)
        self.senders.append(sender)
        self._tasks.append(asyncio.create_task(self._chat(sender), name=f"chat-{sender.tag}"))

    async def _chat(self, s: Sender) -> None:
        for n in itertools.count(1):
            if self._stop.is_set():
                return
            cmid = f"{s.tag}-{n}"
            text = f"meddelande {n} från {s.peer.side} ".ljust(s.text_size, "å")
            sent_at = time.monotonic()
            while True:
                await s.peer.ensure()
                answer = await s.peer.send(s.cid, cmid, text)
                if answer.kind == "ack":
                    assert answer.seq is not None
                    s.acked.append(Acked(s.cid, s.peer.side, cmid, answer.seq, time.monotonic(), sent_at))
                    s.answers["ack"] += 1
                    break
                s.answers[f"{answer.kind}:{answer.code}" if answer.code is not None else answer.kind] += 1
                if answer.kind == "silent":
                    s.silent_after.append(time.monotonic())
                    await s.peer.drop()  # what a page does with a socket that went quiet: reconnect
                await asyncio.sleep(RETRY_S)
            await asyncio.sleep(self.pace_s if s.pace_s is None else s.pace_s)

    async def warmed(self, acks: int = 3, timeout: float = 20.0) -> None:
        """Every sender has had ``acks`` messages acked."""
        deadline = time.monotonic() + timeout
        while any(len(s.acked) < acks for s in self.senders):
            self._check_tasks()
            if time.monotonic() >= deadline:
                raise AssertionError(f"not {acks} acks each within {timeout} s: answers {self.answers()}")
            await asyncio.sleep(0.05)

    async def resumed_after(self, t0: float, timeout: float) -> float:
        """Seconds from ``t0`` until every sender has had a message acked after ``t0`` (fails after ``timeout``)."""
        deadline = t0 + timeout
        while True:
            self._check_tasks()
            firsts = [next((a.at for a in s.acked if a.at >= t0), None) for s in self.senders]
            if all(f is not None for f in firsts):
                return max(f for f in firsts if f is not None) - t0
            if time.monotonic() >= deadline:
                stuck = [s.tag for s, f in zip(self.senders, firsts, strict=True) if f is None]
                raise AssertionError(
                    f"{len(stuck)} senders had nothing acked within {timeout} s: {stuck}; answers {self.answers()}"
                )
            await asyncio.sleep(0.05)

    async def caught_up_after(self, t0: float, timeout: float, peers: list[Peer] | None = None) -> float:
        """Seconds from ``t0`` until every peer (or these) has received every message of the other side acked
        before ``t0``."""
        before = [a for a in self.acked() if a.at < t0]
        deadline = t0 + timeout
        while True:
            self._check_tasks()
            behind = [
                (p.name, cid)
                for p in (self.peers if peers is None else peers)
                for cid in p.conversations
                if any(a.conversation_id == cid and a.side != p.side and a.seq > p.last_seen(cid) for a in before)
            ]
            if not behind:
                return time.monotonic() - t0
            if time.monotonic() >= deadline:
                raise AssertionError(f"not caught up within {timeout} s: {behind}; answers {self.answers()}")
            await asyncio.sleep(0.05)

    def _check_tasks(self) -> None:
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise AssertionError(f"{task.get_name()} failed") from task.exception()

    async def stop(self, timeout: float = 30.0) -> None:
        """Let each sender finish the message it is on (until it is acked), then stop."""
        self._stop.set()
        async with asyncio.timeout(timeout):
            await asyncio.gather(*self._tasks)

    async def aclose(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for peer in self.peers:
            await peer.aclose()

    def answers(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for s in self.senders:
            total.update(s.answers)
        return total

    def closes(self) -> dict[str, int]:
        """How the sockets that ended were ended: close code (``none``: no close frame, the peer vanished)."""
        return dict(Counter(str(code).lower() for p in self.peers for code in p.drops))

    def acked(self) -> list[Acked]:
        return [a for s in self.senders for a in s.acked]

    @property
    def silent(self) -> int:
        return sum(len(s.silent_after) for s in self.senders)

    async def delivered(self, timeout: float = 20.0) -> None:
        """Every peer (reconnected if need be) has received every acked message of the other side."""
        async with asyncio.timeout(timeout):
            for peer in self.peers:
                await peer.ensure()
            while True:
                missing = [
                    (p.name, cid)
                    for p in self.peers
                    for cid in p.conversations
                    if any(a.seq > p.last_seen(cid) for a in self.acked() if a.conversation_id == cid and a.side != p.side)
                ]
                if not missing:
                    break
                for peer in self.peers:
                    await peer.ensure()
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # a late duplicate would arrive now

    async def finish(self, database_url: str) -> None:
        """Stop, let every socket catch up, check the store and what each side received, and that no message
        went unanswered (no ack, error frame or close within ``ANSWER_S``)."""
        await self.stop()
        await self.delivered()
        await self.verify(database_url)
        assert self.silent == 0, f"{self.silent} messages went unanswered for {ANSWER_S} s: {self.answers()}"

    async def more_acks(self, n: int, timeout: float = 20.0) -> None:
        """Every sender has had ``n`` more messages acked than now."""
        wanted = [len(s.acked) + n for s in self.senders]
        async with asyncio.timeout(timeout):
            while any(len(s.acked) < w for s, w in zip(self.senders, wanted, strict=True)):
                self._check_tasks()
                await asyncio.sleep(0.05)

    async def verify(self, database_url: str) -> None:
        """Each acked message is stored exactly once under its seq; each socket saw each seq once, in order;
        the other side got each acked message."""
        acked = self.acked()
        by_cid: dict[str, list[Acked]] = {}
        for a in acked:
            by_cid.setdefault(a.conversation_id, []).append(a)
        stored = await stored_messages(database_url, list(by_cid))
        for cid, mine in by_cid.items():
            rows = stored.get(cid, [])
            keys = [(r[2], r[0]) for r in rows]  # (client_msg_id, seq)
            dupes = [k for k, n in Counter(k for k, _ in keys).items() if n > 1]
            assert not dupes, f"{cid}: stored more than once: {dupes}"
            assert [r[0] for r in rows] == list(range(1, len(rows) + 1)), f"{cid}: seqs not 1..n: {[r[0] for r in rows]}"
            want = sorted((a.client_msg_id, a.seq) for a in mine)
            assert sorted(keys) == want, (
                f"{cid}: store and acks differ: only stored {sorted(set(keys) - set(want))[:5]}, "
                f"only acked {sorted(set(want) - set(keys))[:5]}"
            )
        for peer in self.peers:
            for cid in peer.conversations:
                got = peer.received[cid]
                seqs = [g[0] for g in got]
                assert seqs == sorted(set(seqs)), f"{peer.name} saw {cid} out of order or twice: {_bad(seqs)}"
                theirs = sorted((a.seq, a.client_msg_id) for a in by_cid.get(cid, []) if a.side != peer.side)
                seen = [(g[0], g[2]) for g in got if g[1] != peer.side]
                assert seen == theirs, f"{peer.name} did not get exactly the other side's acked messages of {cid}"
                stored_seqs = {r[0]: r[2] for r in stored.get(cid, [])}
                assert all(stored_seqs.get(seq) == cmid for seq, _, cmid in got), f"{peer.name} saw a message not stored"


def _bad(seqs: list[int]) -> list[tuple[int, int]]:
    return [(a, b) for a, b in itertools.pairwise(seqs) if b <= a][:5]


async def stored_messages(database_url: str, conversation_ids: list[str]) -> dict[str, list[tuple[int, str, str]]]:
    """(seq, sender, client_msg_id) of every stored message of these conversations, by seq."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT conversation_id, seq, sender, client_msg_id FROM messages WHERE conversation_id = ANY($1::text[]) "
            "ORDER BY conversation_id, seq, id",
            conversation_ids,
        )
    finally:
        await conn.close()
    out: dict[str, list[tuple[int, str, str]]] = {}
    for r in rows:
        out.setdefault(r["conversation_id"], []).append((r["seq"], r["sender"], r["client_msg_id"]))
    return out


class Readiness:
    """``GET /readyz`` of each instance every 100 ms: (monotonic time, status) per instance, 0 when nothing answers."""

    def __init__(self, servers: list[Server]) -> None:
        self.servers = servers
        self.seen: dict[str, list[tuple[float, int]]] = {s.name: [] for s in servers}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll(), name="readyz-monitor")

    async def _poll(self) -> None:
        # As long as the readiness check itself may take (chat/service/readiness.py, PING_TIMEOUT_S).
        async with httpx.AsyncClient(timeout=6.0) as http:
            while True:
                for s in self.servers:
                    try:
                        status = (await http.get(s.base + "/readyz")).status_code
                    except httpx.HTTPError:
                        status = 0
                    self.seen[s.name].append((time.monotonic(), status))
                await asyncio.sleep(0.1)

    def unready_since(self, name: str, t0: float) -> bool:
        return any(st != 200 for t, st in self.seen[name] if t >= t0)

    async def ready_after(self, name: str, t0: float, timeout: float) -> float:
        """Seconds from ``t0`` until ``name`` answered 200 after its last non-200 since ``t0`` (and 200 since)."""
        deadline = t0 + timeout
        while True:
            after = [(t, st) for t, st in self.seen[name] if t >= t0]
            if after and after[-1][1] == 200:
                bad = [t for t, st in after if st != 200]
                if not bad:
                    return 0.0
                return next(t for t, st in after if t > bad[-1]) - t0
            if time.monotonic() >= deadline:
                raise AssertionError(f"{name} not ready within {timeout} s; last {after[-3:]}")
            await asyncio.sleep(0.05)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class Setup:
    a: Server
    b: Server
    traffic: Traffic
    readiness: Readiness
    env: dict[str, str]
    workdir: Path


async def staff_holding(env: dict[str, str], workdir: Path, name: str, base: str, conversation_ids: list[str]) -> str:
    """Add the staff member ``name`` (CLI), log in at ``base`` and claim these conversations; their session cookie."""
    await add_staff(env, name, name.title(), cwd=workdir)
    staff = Staff(base, name, STAFF_PASSWORD)
    try:
        await staff.login()
        for cid in conversation_ids:
            assert (await staff.claim(cid)).status_code == 200
        return staff.http.cookies["mm_staff"]
    finally:
        await staff.http.aclose()


async def two_instances(
    procs: Procs, tmp_path: Path, database_url: str, redis_url: str, **settings: str
) -> tuple[Server, Server, dict[str, str]]:
    """Instances ``a`` and ``b`` (``minimaria serve``) on one database and bus with one key ring, both ready; and
    their environment."""
    ports = free_ports(2)
    keys = tmp_path / "keys.json"
    FileKeyRing.create(keys)
    env = service_env(
        database_url=database_url,
        redis_url=redis_url,
        bus_prefix=unique_prefix(),
        keys_file=str(keys),
        allowed_origins=",".join(f"http://127.0.0.1:{p}" for p in ports),
        **settings,
    )
    await db_upgrade(env, cwd=tmp_path)
    a, b = procs.server("a", env, ports[0]), procs.server("b", env, ports[1])
    await procs.start_all(a, b)
    return a, b, env


async def two_instances_chatting(
    procs: Procs,
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    conversations: int = 6,
    **settings: str,
) -> Setup:
    """``two_instances``; visitors alternate between them, and two staff members, Anna on b and Bertil on a,
    hold half the conversations each (so some chats cross instances, some do not)."""
    a, b, env = await two_instances(procs, tmp_path, database_url, redis_url, **settings)
    bases = [a.base, b.base]

    visitors = [await Visitor.start(bases[i % 2]) for i in range(conversations)]
    peers: list[Peer] = []
    senders: list[Sender] = []
    half = (conversations + 1) // 2
    for k, name in enumerate(("anna", "bertil")):
        home = bases[1 - k]
        mine = visitors[k * half : (k + 1) * half]
        cookie = await staff_holding(env, tmp_path, name, home, [v.id for v in mine])
        peer = Peer(name, "staff", [home, bases[k]], [v.id for v in mine], cookie=cookie)
        peers.append(peer)
        senders += [Sender(peer, v.id, f"{name}-{n}") for n, v in enumerate(mine)]
    for n, v in enumerate(visitors):
        i = n % 2
        peer = Peer(f"visitor{n}", "visitor", [bases[i], bases[1 - i]], [v.id], token=v.token)
        peers.append(peer)
        senders.append(Sender(peer, v.id, f"v{n}"))
    for peer in peers:
        await peer.ensure()
    readiness = Readiness([a, b])
    readiness.start()
    traffic = Traffic(senders, peers)
    traffic.start()
    return Setup(a, b, traffic, readiness, env, tmp_path)


@contextlib.asynccontextmanager
async def chatting(procs: Procs, tmp_path: Path, database_url: str, redis_url: str, **kwargs: Any) -> AsyncIterator[Setup]:
    """``two_instances_chatting``, with the traffic and the readiness monitor stopped however the test ends."""
    setup = await two_instances_chatting(procs, tmp_path, database_url, redis_url, **kwargs)
    try:
        yield setup
    finally:
        await setup.traffic.aclose()
        await setup.readiness.aclose()


def record(name: str, **figures: Any) -> None:
    """Print one line of recovery figures (pytest shows it with -s or -rP; docs/performance.md quotes them)."""
    print("RECOVERY " + json.dumps({"test": name, **figures}, sort_keys=True))
