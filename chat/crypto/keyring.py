"""The KEK ring: key-encryption keys with ids, one primary, from a key file or the environment.

A ring wraps and unwraps data keys (DEKs). It is a protocol so a KMS (e.g. Vault transit) can be
another provider later. The file provider keeps its file at mode 0600, refuses to load a file that
group or others can read, writes changes atomically, and re-reads the file when asked for a key id it
does not know (another process rotated), so running instances pick up rotations by themselves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

WRAP_CONTEXT = b"minimaria/dek/v1|"
MAC_CONTEXT = b"minimaria/mac/v1|"


class KeyError_(Exception):
    """The ring cannot do what was asked (unknown key id, unreadable file, wrong permissions)."""


class KeyProvider(Protocol):
    def primary_id(self) -> str: ...
    def ids(self) -> list[str]: ...
    def wrap(self, dek: bytes, context: str) -> tuple[str, bytes]: ...
    def unwrap(self, kek_id: str, wrapped: bytes, context: str) -> bytes: ...
    def mac_key(self, purpose: str) -> bytes: ...


@runtime_checkable
class ManagedRing(KeyProvider, Protocol):
    """A ring this service may change itself (the key file); an environment or KMS ring is managed elsewhere."""

    def reload(self) -> None: ...
    def check(self) -> None: ...
    def rotate(self) -> str: ...
    def retire(self, kek_id: str) -> None: ...
    def primary_since(self) -> datetime | None: ...


@dataclass(frozen=True)
class Kek:
    id: str
    key: bytes
    created: str


def _new_kek(existing: set[str]) -> Kek:
    # Ids only grow (k1, k2, …): a retired key's id is never given to another key.
    numbers = [int(k[1:]) for k in existing if k[:1] == "k" and k[1:].isdigit()]
    kek_id = f"k{max(numbers, default=0) + 1}"
    return Kek(kek_id, AESGCM.generate_key(bit_length=256), datetime.now(UTC).isoformat(timespec="seconds"))


def _parse(text: str, source: str) -> tuple[str, dict[str, Kek]]:
    try:
        data = json.loads(text)
        keys = {
            k["id"]: Kek(str(k["id"]), base64.b64decode(k["key"], validate=True), str(k.get("created", "")))
            for k in data["keys"]
        }
        primary = str(data["primary"])
    except (ValueError, KeyError, TypeError) as err:
        raise KeyError_(f"{source}: not a valid key file ({type(err).__name__})") from None
    if primary not in keys or any(len(k.key) != 32 for k in keys.values()):
        raise KeyError_(f"{source}: the primary key must be listed and every key must be 256 bits")
    return primary, keys


def _dump(primary: str, keys: dict[str, Kek]) -> str:
    return json.dumps(
        {"primary": primary, "keys": [{"id": k.id, "key": base64.b64encode(k.key).decode(), "created": k.created}
                                      for k in keys.values()]},
        indent=2,
    )


class RingBase:
    def __init__(self, primary: str, keys: dict[str, Kek]) -> None:
        # One attribute, replaced whole: a reload in another thread never shows a primary without its key.
        self._state = (primary, keys)

    @property
    def _primary(self) -> str:
        return self._state[0]

    @property
    def _keys(self) -> dict[str, Kek]:
        return self._state[1]

    def primary_id(self) -> str:
        return self._primary

    def ids(self) -> list[str]:
        return list(self._keys)

    def wrap(self, dek: bytes, context: str) -> tuple[str, bytes]:
        primary, keys = self._state
        nonce = secrets.token_bytes(12)
        ct = AESGCM(keys[primary].key).encrypt(nonce, dek, WRAP_CONTEXT + context.encode())
        return primary, nonce + ct

    def unwrap(self, kek_id: str, wrapped: bytes, context: str) -> bytes:
        kek = self._keys.get(kek_id) or self._missing(kek_id)
        try:
            return AESGCM(kek.key).decrypt(wrapped[:12], wrapped[12:], WRAP_CONTEXT + context.encode())
        except InvalidTag:
            raise KeyError_("a wrapped data key failed its integrity check") from None

    def mac_key(self, purpose: str) -> bytes:
        """A 256-bit key for HMACs of one purpose, derived from the primary KEK: every instance with the ring
        derives the same key, a database without the ring cannot. It changes when the primary does."""
        primary, keys = self._state
        return hmac.new(keys[primary].key, MAC_CONTEXT + purpose.encode(), hashlib.sha256).digest()

    def _missing(self, kek_id: str) -> Kek:
        raise KeyError_(f"key {kek_id} is not in the ring")


class EnvKeyRing(RingBase):
    """Keys from MINIMARIA_KEYS (the key file's JSON, e.g. from a secret store); read-only."""

    @classmethod
    def from_text(cls, text: str) -> EnvKeyRing:
        return cls(*_parse(text, "MINIMARIA_KEYS"))


class FileKeyRing(RingBase):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        super().__init__(*self._read())

    @staticmethod
    def create(path: Path) -> FileKeyRing:
        """A new key file with one key, created 0600 and never overwritten."""
        kek = _new_kek(set())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(_dump(kek.id, {kek.id: kek}))
        return FileKeyRing(path)

    def _read(self) -> tuple[str, dict[str, Kek]]:
        try:
            mode = self.path.stat().st_mode
        except OSError as err:
            raise KeyError_(f"{self.path}: {err.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyError_(f"{self.path}: readable by group or others; run: chmod 600 {self.path}")
        return _parse(self.path.read_text(encoding="utf-8"), str(self.path))

    def reload(self) -> None:
        with self._lock:
            self._state = self._read()

    def check(self) -> None:
        """Read the file now, as a reload would, without changing the ring: raises KeyError_ when it cannot be
        read (gone, unreadable, readable by others, not a key file) or no longer holds this ring's primary."""
        _, keys = self._read()
        if self._primary not in keys:
            raise KeyError_(f"{self.path}: the primary key {self._primary} is not in the file")

    def primary_since(self) -> datetime | None:
        """When the primary key was made (it is made primary when it is made); None if unrecorded."""
        primary, keys = self._state
        try:
            since = datetime.fromisoformat(keys[primary].created)
        except ValueError:
            return None
        return since if since.tzinfo is not None else since.replace(tzinfo=UTC)

    def _missing(self, kek_id: str) -> Kek:
        self.reload()  # another process may have rotated
        kek = self._keys.get(kek_id)
        if kek is None:
            raise KeyError_(f"key {kek_id} is not in {self.path}")
        return kek

    def _write(self, primary: str, keys: dict[str, Kek]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(_dump(primary, keys))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._state = (primary, keys)

    def rotate(self) -> str:
        """Add a new key and make it primary; old keys stay for unwrapping until retired."""
        with self._lock:
            _, keys = self._read()  # the file as it is now, not as this process last saw it
            kek = _new_kek(set(keys))
            self._write(kek.id, {**keys, kek.id: kek})
            return kek.id

    def retire(self, kek_id: str) -> None:
        with self._lock:
            primary, keys = self._read()
            if kek_id == primary:
                raise KeyError_("the primary key cannot be retired; rotate first")
            if kek_id not in keys:
                raise KeyError_(f"key {kek_id} is not in the ring")
            self._write(primary, {k: v for k, v in keys.items() if k != kek_id})


def describe(ring: KeyProvider) -> list[dict[str, Any]]:
    return [{"id": k, "primary": k == ring.primary_id()} for k in ring.ids()]
