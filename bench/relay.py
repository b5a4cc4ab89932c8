"""The baseline: a bare Starlette WebSocket relay with no storage, no auth, no ordering guarantees.

A visitor socket says hello with a room id; a watcher socket says hello with a list of rooms and
receives every message of those rooms. Each msg is parsed, acked with a counter and forwarded: the least a chat
relay can do. Run: python -m bench.relay PORT
"""

from __future__ import annotations

import itertools
import json
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

watchers: dict[str, set[WebSocket]] = {}
counter = itertools.count(1)


async def endpoint(ws: WebSocket) -> None:
    await ws.accept()
    hello = json.loads(await ws.receive_text())
    for room in hello.get("watch", []):
        watchers.setdefault(room, set()).add(ws)
    await ws.send_text(json.dumps({"type": "welcome"}))
    try:
        while True:
            frame = json.loads(await ws.receive_text())
            if frame.get("type") != "msg":
                continue
            seq = next(counter)
            await ws.send_text(json.dumps({"type": "ack", "client_msg_id": frame["client_msg_id"], "seq": seq}))
            out = json.dumps({"type": "msg", "seq": seq, "text": frame["text"], "conversation_id": hello.get("room")})
            for w in list(watchers.get(hello.get("room", ""), ())):
                await w.send_text(out)
    except WebSocketDisconnect:
        for room in hello.get("watch", []):
            watchers.get(room, set()).discard(ws)


app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), ws="websockets-sansio", ws_per_message_deflate=False,
                log_level="warning", access_log=False)
