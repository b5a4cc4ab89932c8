"""Test clients that speak the public protocol over real sockets: HTTP (httpx) and WebSocket (websockets)."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

TIMEOUT = 5.0


class WS:
    """A WebSocket client that keeps every frame it received, in order."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.received: list[dict[str, Any]] = []
        self._unread: list[dict[str, Any]] = []
        self.sent: dict[str, dict[str, Any]] = {}  # the msg frames this socket sent, by client_msg_id

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> WS:
        return cls(await websockets.connect(url, open_timeout=TIMEOUT, **kwargs))

    async def send(self, **frame: Any) -> None:
        if frame.get("type") == "msg" and isinstance(frame.get("client_msg_id"), str):
            self.sent.setdefault(frame["client_msg_id"], frame)
        await self.conn.send(json.dumps(frame))

    async def send_raw(self, raw: str | bytes) -> None:
        await self.conn.send(raw)

    async def _next(self, timeout: float) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.conn.recv(), timeout)
        frame: dict[str, Any] = json.loads(raw)
        self.received.append(frame)
        return frame

    async def expect(self, type_: str, timeout: float = TIMEOUT, **match: Any) -> dict[str, Any]:
        """The next frame of this type (and field values); other frames stay readable by later expects."""
        for i, frame in enumerate(self._unread):
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                return self._unread.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self._next(max(0.01, deadline - loop.time()))
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                return frame
            self._unread.append(frame)

    async def first_of(self, types: tuple[str, ...], timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next frame of any of these types; other frames stay readable by later expects."""
        for i, frame in enumerate(self._unread):
            if frame["type"] in types:
                return self._unread.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self._next(max(0.01, deadline - loop.time()))
            if frame["type"] in types:
                return frame
            self._unread.append(frame)

    async def nothing_more(self, type_: str, within: float = 0.3, **match: Any) -> None:
        """Assert no frame of this type (and field values) arrives within a short window (used after an
        expected end state)."""
        try:
            frame = await self.expect(type_, timeout=within, **match)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected {type_} frame: {frame}")

    async def closed(self, timeout: float = TIMEOUT) -> int | None:
        """Wait for the server to close; returns the close code."""
        try:
            while True:
                await self._next(timeout)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    def messages(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """The messages this socket's page shows, in the order it learnt them: the msg frames, and its own
        messages from their acks (the socket that sends a message gets the ack, not the msg: protocol.md §3)."""
        shown: list[dict[str, Any]] = []
        keys: set[tuple[str | None, int]] = set()
        mine: str | None = None  # a visitor's conversation (its acks do not name it)
        for f in self.received:
            if f["type"] == "welcome" and "conversation_id" in f:
                mine = f["conversation_id"]
            if f["type"] == "ack" and f.get("client_msg_id") in self.sent:
                sent = self.sent[f["client_msg_id"]]
                cid = f.get("conversation_id") or sent.get("conversation_id") or mine
                if (cid, f["seq"]) in keys:
                    continue  # a resend's ack for a message already shown
                f = {"type": "msg", "conversation_id": cid, "seq": f["seq"],
                     "from": "staff" if "conversation_id" in sent else "visitor", "author": None,
                     "text": sent["text"], "ts": f.get("ts"), "client_msg_id": f["client_msg_id"], "from_ack": True}
            if f["type"] == "msg" and conversation_id in (None, f["conversation_id"]):
                keys.add((f["conversation_id"], f["seq"]))
                shown.append(f)
        return shown

    async def close(self) -> None:
        await self.conn.close()


def tls_option(url: str, tls: ssl.SSLContext | None) -> dict[str, Any]:
    """websockets' ``ssl`` argument for a wss:// URL (it refuses one for ws://)."""
    return {"ssl": tls} if tls is not None and url.startswith("wss://") else {}


class Visitor:
    """``tls``: the context that trusts an https:// base's certificate (e.g. a test's self-signed one)."""

    def __init__(self, base: str, started: dict[str, Any], tls: ssl.SSLContext | None = None) -> None:
        self.base = base
        self.tls = tls
        self.started = started
        self.id: str = started["conversation_id"]
        self.token: str = started["visitor_token"]
        self.ws: WS | None = None
        self.last_seq = 0

    @classmethod
    async def start(cls, base: str, tls: ssl.SSLContext | None = None, **body: Any) -> Visitor:
        async with httpx.AsyncClient(base_url=base, verify=tls or True) as http:
            r = await http.post("/api/v1/conversations", json={"role": "young", **body})
        assert r.status_code == 201, r.text
        return cls(base, r.json(), tls)

    async def connect(self, base: str | None = None, last_seq: int | None = None) -> dict[str, Any]:
        url = (base or self.base).replace("http", "ws", 1) + "/ws/visitor"
        self.ws = await WS.open(url, **tls_option(url, self.tls))
        await self.ws.send(type="hello", token=self.token, last_seq=self.last_seq if last_seq is None else last_seq)
        return await self.ws.expect("welcome")

    async def say(self, text: str, client_msg_id: str) -> dict[str, Any]:
        assert self.ws is not None
        await self.ws.send(type="msg", client_msg_id=client_msg_id, text=text)
        return await self.ws.expect("ack", client_msg_id=client_msg_id)


class Staff:
    def __init__(self, base: str, username: str, password: str, tls: ssl.SSLContext | None = None) -> None:
        self.base, self.username, self.password, self.tls = base, username, password, tls
        self.http = httpx.AsyncClient(base_url=base, headers={"Origin": base}, verify=tls or True)
        self.csrf = ""
        self.ws: WS | None = None

    async def login(self) -> None:
        r = await self.http.post("/api/v1/staff/login", json={"username": self.username, "password": self.password})
        assert r.status_code == 200, r.text
        self.csrf = r.json()["csrf_token"]
        self.http.headers["X-CSRF-Token"] = self.csrf

    async def connect(self, base: str | None = None, last_seq: dict[str, int] | None = None) -> dict[str, Any]:
        base = base or self.base
        cookie = f"mm_staff={self.http.cookies['mm_staff']}"
        url = base.replace("http", "ws", 1) + "/ws/staff"
        self.ws = await WS.open(url, origin=base, additional_headers={"Cookie": cookie}, **tls_option(url, self.tls))
        await self.ws.send(type="hello", last_seq=last_seq or {})
        return await self.ws.expect("welcome")

    async def claim(self, conversation_id: str) -> httpx.Response:
        return await self.http.post(f"/api/v1/staff/conversations/{conversation_id}/claim")

    async def say(self, conversation_id: str, text: str, client_msg_id: str) -> dict[str, Any]:
        assert self.ws is not None
        await self.ws.send(type="msg", conversation_id=conversation_id, client_msg_id=client_msg_id, text=text)
        return await self.ws.expect("ack", client_msg_id=client_msg_id)

    async def aclose(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.aclose()
