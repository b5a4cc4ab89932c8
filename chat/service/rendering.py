"""Each bus message rendered once per instance, not once per socket.

Every socket of this instance that follows a conversation gets the same bus payload, and decoding it,
opening its ciphertext and writing the ``msg`` frame's JSON is the same work for each of them. The
``Renderer`` (one per Context) keeps the result: the payload last decoded (the bus hands the same bytes
object to every local handler, one after the other) and the frames of the last few hundred messages by
(conversation, seq), which every socket's writer then sends as they are. It holds what the sockets'
queues hold anyway, for about as long as they take to send it; a message that has left it is simply
rendered again (``live.render``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chat.wire import decode


@dataclass(frozen=True, slots=True)
class Rendered:
    """A ``msg`` frame ready to send (``text``), with what a socket's writer decides on."""

    conversation_id: str
    seq: int
    sender: str
    client_msg_id: str | None
    ts: str | None
    text: str


class Renderer:
    SIZE = 512  # messages: a burst of them across this instance's conversations, while the sockets catch up

    def __init__(self) -> None:
        self._payload: bytes | None = None
        self._event: dict[str, Any] = {}
        self._frames: dict[tuple[str, int], Rendered] = {}

    def decode(self, payload: bytes) -> dict[str, Any]:
        """The event in a bus payload; shared by every socket it is handed to, so never changed by them."""
        if payload is not self._payload:
            self._event = decode(payload)
            self._payload = payload
        return self._event

    def get(self, conversation_id: str, seq: int) -> Rendered | None:
        return self._frames.get((conversation_id, seq))

    def keep(self, rendered: Rendered) -> Rendered:
        self._frames[(rendered.conversation_id, rendered.seq)] = rendered
        if len(self._frames) > self.SIZE:
            del self._frames[next(iter(self._frames))]  # the oldest
        return rendered
