"""chat/crypto/keyring.py: the KEK ring in a 0600 file or the environment; rotation keeps old keys."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from chat.crypto import envelope
from chat.crypto.keyring import EnvKeyRing, FileKeyRing, KeyError_, describe


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_key_file_is_created_0600_with_one_primary_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = FileKeyRing.create(path)
    assert _mode(path) == 0o600
    assert ring.ids() == [ring.primary_id()]
    data = json.loads(path.read_text())
    assert data["primary"] == ring.primary_id() and len(data["keys"]) == 1


def test_an_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    FileKeyRing.create(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        FileKeyRing.create(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_others_can_read_is_refused_naming_chmod(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys.json"
    FileKeyRing.create(path)
    os.chmod(path, mode)
    with pytest.raises(KeyError_, match=r"chmod 600") as refused:
        FileKeyRing(path)
    assert str(path) in str(refused.value)
    os.chmod(path, 0o600)
    FileKeyRing(path)  # after the fix it loads


def test_a_missing_or_broken_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError_, match=r"keys\.json"):
        FileKeyRing(tmp_path / "keys.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    broken.chmod(0o600)
    with pytest.raises(KeyError_, match="not a valid key file"):
        FileKeyRing(broken)


def test_wrap_and_unwrap_round_trip(tmp_path: Path) -> None:
    ring = FileKeyRing.create(tmp_path / "keys.json")
    dek = envelope.new_dek()
    kek_id, wrapped = ring.wrap(dek, "conv-1")
    assert kek_id == ring.primary_id() and dek not in wrapped
    assert ring.unwrap(kek_id, wrapped, "conv-1") == dek


def test_unwrap_with_the_wrong_context_fails(tmp_path: Path) -> None:
    # The wrapped DEK is bound to its conversation: copied onto another conversation it does not unwrap.
    ring = FileKeyRing.create(tmp_path / "keys.json")
    kek_id, wrapped = ring.wrap(envelope.new_dek(), "conv-1")
    with pytest.raises(KeyError_, match="integrity"):
        ring.unwrap(kek_id, wrapped, "conv-2")


def test_a_changed_wrapped_dek_fails(tmp_path: Path) -> None:
    ring = FileKeyRing.create(tmp_path / "keys.json")
    kek_id, wrapped = ring.wrap(envelope.new_dek(), "conv-1")
    changed = bytearray(wrapped)
    changed[-1] ^= 1
    with pytest.raises(KeyError_):
        ring.unwrap(kek_id, bytes(changed), "conv-1")


def test_rotate_makes_a_new_primary_and_old_wrapped_deks_still_unwrap(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = FileKeyRing.create(path)
    old_id = ring.primary_id()
    dek = envelope.new_dek()
    _, old_wrapped = ring.wrap(dek, "conv-1")

    new_id = ring.rotate()
    assert new_id != old_id and ring.primary_id() == new_id
    assert set(ring.ids()) == {old_id, new_id}
    assert ring.unwrap(old_id, old_wrapped, "conv-1") == dek
    assert ring.wrap(envelope.new_dek(), "conv-2")[0] == new_id
    assert _mode(path) == 0o600  # rewritten atomically, still private
    reread = FileKeyRing(path)
    assert reread.primary_id() == new_id and reread.unwrap(old_id, old_wrapped, "conv-1") == dek
    assert describe(reread) == [{"id": old_id, "primary": False}, {"id": new_id, "primary": True}]


def test_a_running_ring_picks_up_a_rotation_made_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    running = FileKeyRing.create(path)
    cli = FileKeyRing(path)  # as `minimaria keys rotate` would open it
    new_id = cli.rotate()
    dek = envelope.new_dek()
    kek_id, wrapped = cli.wrap(dek, "conv-1")
    assert kek_id == new_id and new_id not in running.ids()
    assert running.unwrap(kek_id, wrapped, "conv-1") == dek  # re-read the file for the unknown id


def test_retire_removes_an_old_key_but_never_the_primary(tmp_path: Path) -> None:
    ring = FileKeyRing.create(tmp_path / "keys.json")
    old_id = ring.primary_id()
    _, wrapped = ring.wrap(envelope.new_dek(), "conv-1")
    new_id = ring.rotate()
    with pytest.raises(KeyError_, match="rotate first"):
        ring.retire(new_id)
    ring.retire(old_id)
    assert ring.ids() == [new_id]
    with pytest.raises(KeyError_, match=f"{old_id} is not in"):
        ring.unwrap(old_id, wrapped, "conv-1")
    with pytest.raises(KeyError_, match="not in the ring"):
        ring.retire(old_id)


def test_env_key_ring_reads_the_key_file_json(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    file_ring = FileKeyRing.create(path)
    file_ring.rotate()
    env_ring = EnvKeyRing.from_text(path.read_text())
    assert env_ring.ids() == file_ring.ids() and env_ring.primary_id() == file_ring.primary_id()
    # Same keys: what one wraps the other unwraps.
    dek = envelope.new_dek()
    assert env_ring.unwrap(*file_ring.wrap(dek, "conv-1"), "conv-1") == dek
    assert file_ring.unwrap(*env_ring.wrap(dek, "conv-2"), "conv-2") == dek


def test_env_key_ring_refuses_bad_json_without_echoing_it() -> None:
    secret = "c2VjcmV0LWtleS1tYXRlcmlhbA=="
    for text in ("", "[]", '{"primary": "k1", "keys": []}', json.dumps({"primary": "k1", "keys": [{"id": "k1", "key": secret}]})):
        with pytest.raises(KeyError_, match="MINIMARIA_KEYS") as refused:
            EnvKeyRing.from_text(text)
        assert secret not in str(refused.value)


def test_env_key_ring_refuses_a_primary_that_is_not_listed(tmp_path: Path) -> None:
    FileKeyRing.create(tmp_path / "keys.json")
    data = json.loads((tmp_path / "keys.json").read_text())
    data["primary"] = "k99"
    with pytest.raises(KeyError_, match="primary"):
        EnvKeyRing.from_text(json.dumps(data))


def test_env_key_ring_unknown_id_is_refused() -> None:
    ring = EnvKeyRing.from_text(json.dumps({"primary": "k1", "keys": [{"id": "k1", "key": "A" * 43 + "="}]}))
    with pytest.raises(KeyError_, match="k2 is not in the ring"):
        ring.unwrap("k2", b"\x00" * 60, "conv-1")


def test_a_retired_key_id_is_never_given_to_a_new_key(tmp_path: Path) -> None:
    # A DEK row (or a backup) naming a retired id must never meet another key under that id.
    ring = FileKeyRing.create(tmp_path / "keys.json")
    seen = {ring.primary_id()}
    for _ in range(3):
        old = ring.primary_id()
        new = ring.rotate()
        assert new not in seen
        seen.add(new)
        ring.retire(old)


def test_two_rotations_from_two_processes_keep_both_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first, second = FileKeyRing.create(path), FileKeyRing(path)
    a = first.rotate()
    b = second.rotate()  # this copy never saw ``a``; it must not write it away
    assert a != b and {a, b} <= set(FileKeyRing(path).ids())
