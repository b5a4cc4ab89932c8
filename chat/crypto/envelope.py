"""Envelope encryption of everything a person wrote: AES-256-GCM under the conversation's data key.

Format (version 1): ``0x01 | DEK version (2 bytes, big-endian) | nonce (12) | ciphertext+tag``.
The associated data binds each text to its place — conversation, kind of record, position (seq or
note time), sender — so a row copied to another conversation or position fails to decrypt instead of
showing the wrong text.
"""

from __future__ import annotations

import secrets
import struct
import time
from collections import OrderedDict

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = 1
_HEAD = struct.Struct(">BH")


class Tampered(Exception):
    """The stored text failed its integrity check: changed, moved, or under another key."""


def new_dek() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def aad(conversation_id: str, kind: str, position: str, sender: str) -> bytes:
    return f"minimaria/v1|{conversation_id}|{kind}|{position}|{sender}".encode()


def seal(dek: bytes, plaintext: str, associated: bytes, dek_version: int = 1) -> bytes:
    nonce = secrets.token_bytes(12)
    return _HEAD.pack(FORMAT, dek_version) + nonce + AESGCM(dek).encrypt(nonce, plaintext.encode(), associated)


def open_(dek: bytes, blob: bytes, associated: bytes, dek_version: int = 1) -> str:
    # The header is not covered by the tag, so it must be exactly what ``seal`` wrote: otherwise a
    # flipped bit in the DEK version would go unnoticed (every other byte is checked by GCM).
    if len(blob) < _HEAD.size + 12 + 16 or _HEAD.unpack_from(blob) != (FORMAT, dek_version):
        raise Tampered("unknown format")
    nonce = blob[_HEAD.size : _HEAD.size + 12]
    try:
        return AESGCM(dek).decrypt(nonce, blob[_HEAD.size + 12 :], associated).decode()
    except (InvalidTag, UnicodeDecodeError):
        raise Tampered("integrity check failed") from None


class DekCache:
    """Unwrapped data keys in memory only, bounded and expiring; never logged or persisted."""

    def __init__(self, size: int = 10_000, ttl_s: float = 900.0) -> None:
        self.size, self.ttl = size, ttl_s
        self._items: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    def get(self, conversation_id: str) -> bytes | None:
        item = self._items.get(conversation_id)
        if item is None:
            return None
        dek, expires = item
        if expires < time.monotonic():
            del self._items[conversation_id]
            return None
        self._items.move_to_end(conversation_id)
        return dek

    def put(self, conversation_id: str, dek: bytes) -> None:
        self._items[conversation_id] = (dek, time.monotonic() + self.ttl)
        self._items.move_to_end(conversation_id)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def drop(self, conversation_id: str) -> None:
        self._items.pop(conversation_id, None)
