"""Staff passwords are hashed with argon2id at the library's recommended cost (RFC 9106's low-memory
choice: t=3, 64 MiB, p=4), however cheaply the test servers hash them (tests/conftest.py quick_argon2)."""

from __future__ import annotations

from argon2 import Type, extract_parameters
from argon2.profiles import RFC_9106_LOW_MEMORY

from chat.service import accounts


def test_production_hashes_use_argon2id_at_the_recommended_cost() -> None:
    # The hasher a server uses unless a test swapped in a cheap one.
    params = extract_parameters(accounts.PRODUCTION.hash("a password to hash"))
    assert params.type is Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.parallelism)
    assert params.time_cost >= 3 and params.memory_cost >= 64 * 1024


async def test_a_name_that_is_no_account_is_checked_against_a_hash_of_the_same_cost() -> None:
    """So a wrong name takes as long as a wrong password (docs/security.md, *Staff login*)."""
    real = accounts._hasher.hash("a password to hash")
    assert extract_parameters(await accounts._dummy_hash()) == extract_parameters(real)
