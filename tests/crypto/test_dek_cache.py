"""The DEK cache keeps unwrapped keys bounded in number and in time, and forgets on request."""

from __future__ import annotations

import time

from chat.crypto.envelope import DekCache


def test_the_least_recently_used_key_is_evicted_past_the_bound() -> None:
    cache = DekCache(size=2, ttl_s=60)
    cache.put("a", b"A" * 32)
    cache.put("b", b"B" * 32)
    assert cache.get("a") == b"A" * 32  # a is now the most recently used
    cache.put("c", b"C" * 32)
    assert cache.get("b") is None
    assert cache.get("a") == b"A" * 32 and cache.get("c") == b"C" * 32


def test_a_key_expires_after_its_lifetime() -> None:
    cache = DekCache(size=10, ttl_s=0.05)
    cache.put("a", b"A" * 32)
    assert cache.get("a") == b"A" * 32
    deadline = time.monotonic() + 0.06
    while time.monotonic() < deadline:  # a clock that moves, not a sleep waiting for some other state
        pass
    assert cache.get("a") is None


def test_drop_forgets_a_key_at_once() -> None:
    cache = DekCache()
    cache.put("a", b"A" * 32)
    cache.drop("a")
    assert cache.get("a") is None
