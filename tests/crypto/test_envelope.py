"""chat/crypto/envelope.py: AES-256-GCM under a data key, bound to its place; every change is refused."""

from __future__ import annotations

import pytest

from chat.crypto import envelope
from chat.crypto.envelope import Tampered

AAD = envelope.aad("c-1", "message", "3", "visitor")


def test_sealed_text_opens_to_the_same_text() -> None:
    dek = envelope.new_dek()
    for text in ("hej", "", "Jag mår dåligt 😔 – kan ni ringa?", "x" * 4000):
        assert envelope.open_(dek, envelope.seal(dek, text, AAD), AAD) == text


def test_sealed_blob_has_the_documented_layout_and_hides_the_text() -> None:
    dek = envelope.new_dek()
    blob = envelope.seal(dek, "hemlig text", AAD)
    assert blob[0] == envelope.FORMAT and blob[1:3] == b"\x00\x01"
    assert len(blob) == 3 + 12 + len("hemlig text") + 16
    assert b"hemlig" not in blob


def test_the_same_text_sealed_twice_gives_different_blobs() -> None:
    # A fresh random nonce each time: equal texts cannot be spotted as equal rows.
    dek = envelope.new_dek()
    first, second = envelope.seal(dek, "hej", AAD), envelope.seal(dek, "hej", AAD)
    assert first != second and first[3:15] != second[3:15]


@pytest.mark.parametrize(
    "other",
    [
        envelope.aad("c-2", "message", "3", "visitor"),  # another conversation
        envelope.aad("c-1", "message", "4", "visitor"),  # another position
        envelope.aad("c-1", "message", "3", "staff"),  # another sender
        envelope.aad("c-1", "note", "3", "visitor"),  # another kind of record
        b"",
    ],
    ids=["conversation", "seq", "sender", "kind", "empty"],
)
def test_wrong_associated_data_is_refused(other: bytes) -> None:
    dek = envelope.new_dek()
    blob = envelope.seal(dek, "hej", AAD)
    with pytest.raises(Tampered):
        envelope.open_(dek, blob, other)


def test_another_data_key_is_refused() -> None:
    blob = envelope.seal(envelope.new_dek(), "hej", AAD)
    with pytest.raises(Tampered):
        envelope.open_(envelope.new_dek(), blob, AAD)


def test_every_single_byte_flip_is_refused() -> None:
    # Header, nonce, ciphertext and tag alike: no byte of a stored text can change unnoticed.
    dek = envelope.new_dek()
    blob = envelope.seal(dek, "hej då", AAD)
    for i in range(len(blob)):
        for bit in (0x01, 0x80):
            changed = bytearray(blob)
            changed[i] ^= bit
            with pytest.raises(Tampered):
                envelope.open_(dek, bytes(changed), AAD)


@pytest.mark.parametrize("keep", [0, 1, 3, 15, 30], ids=lambda n: f"{n}-bytes")
def test_truncated_blob_is_refused(keep: int) -> None:
    dek = envelope.new_dek()
    blob = envelope.seal(dek, "", AAD)  # 31 bytes: the shortest valid blob
    with pytest.raises(Tampered):
        envelope.open_(dek, blob[:keep], AAD)


def test_blob_missing_its_last_byte_is_refused() -> None:
    dek = envelope.new_dek()
    blob = envelope.seal(dek, "hej", AAD)
    with pytest.raises(Tampered):
        envelope.open_(dek, blob[:-1], AAD)


@pytest.mark.parametrize("fmt", [0, 2, 0xFF])
def test_unknown_format_byte_is_refused(fmt: int) -> None:
    dek = envelope.new_dek()
    blob = envelope.seal(dek, "hej", AAD)
    with pytest.raises(Tampered, match="unknown format"):
        envelope.open_(dek, bytes([fmt]) + blob[1:], AAD)


def test_a_blob_of_another_dek_version_is_refused() -> None:
    dek = envelope.new_dek()
    blob = envelope.seal(dek, "hej", AAD, dek_version=2)
    with pytest.raises(Tampered):
        envelope.open_(dek, blob, AAD)
    assert envelope.open_(dek, blob, AAD, dek_version=2) == "hej"


def test_text_that_is_not_utf8_is_refused() -> None:
    # GCM would accept it; the decode must not turn it into an exception of another kind.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    dek = envelope.new_dek()
    nonce = bytes(12)
    blob = bytes([envelope.FORMAT, 0, 1]) + nonce + AESGCM(dek).encrypt(nonce, b"\xff\xfe", AAD)
    with pytest.raises(Tampered):
        envelope.open_(dek, blob, AAD)

