"""BENCHMARK ONLY: ``minimaria serve`` with the cryptography of stored texts taken out.

Measures what encryption at rest costs by running the very same server with ``envelope.seal`` and
``envelope.open_`` replaced by functions that keep the stored format (format byte, DEK version, a
12-byte nonce, the text, a 16-byte tag) but put the plaintext where the ciphertext goes, with a zero
nonce and a zero tag. Everything else (DEK creation and unwrapping, the cache, the bus, the store) is
untouched, so the difference between the two runs is AES-GCM on the message path and nothing else.
There is no switch for this in production code, on purpose: this file is the only way to get it.

    python -m bench.plain_server [serve options, e.g. --port 8001 --upgrade]

Never point it at a real database: everything it stores is plaintext.
"""

from __future__ import annotations

import sys

from chat.crypto import envelope

NONCE = bytes(12)
TAG = bytes(16)

WARNING = """\
************************************************************************
*  BENCHMARK-ONLY SERVER: messages, notes and feedback are stored and  *
*  published IN PLAINTEXT (encryption at rest is switched off).        *
*  Never run this against a real database or with real people.         *
************************************************************************"""


def seal(dek: bytes, plaintext: str, associated: bytes, dek_version: int = 1) -> bytes:
    return envelope._HEAD.pack(envelope.FORMAT, dek_version) + NONCE + plaintext.encode() + TAG


def open_(dek: bytes, blob: bytes, associated: bytes, dek_version: int = 1) -> str:
    head = envelope._HEAD.size
    if len(blob) < head + len(NONCE) + len(TAG) or envelope._HEAD.unpack_from(blob) != (envelope.FORMAT, dek_version):
        raise envelope.Tampered("unknown format")
    return blob[head + len(NONCE) : -len(TAG)].decode()


def unencrypted() -> None:
    """Replace the module's functions; callers look them up at call time (``envelope.seal(...)``)."""
    envelope.seal = seal
    envelope.open_ = open_


def main(argv: list[str] | None = None) -> None:
    print(WARNING, file=sys.stderr, flush=True)
    unencrypted()
    from chat import cli

    cli.main(["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
