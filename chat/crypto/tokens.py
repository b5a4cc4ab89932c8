"""Visitor tokens, staff session tokens and return codes, and the hashes they are stored as.

Tokens are 256-bit random; the database only ever sees SHA-256 of them, so a copy of the database
cannot be used to speak as a visitor or staff member.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

# No 0/O, 1/I/L, 5/S or 2/Z: a return code is read aloud and typed on a phone.
RETURN_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
RETURN_LEN = 12


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_return_code() -> str:
    raw = "".join(secrets.choice(RETURN_ALPHABET) for _ in range(RETURN_LEN))
    return "-".join(raw[i : i + 4] for i in range(0, RETURN_LEN, 4))


def normalize_return_code(code: str) -> str:
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def return_code_hash(code: str) -> str:
    return hashlib.sha256(b"return-code:" + normalize_return_code(code).encode()).hexdigest()


def login_key(mac_key: bytes, username: str) -> str:
    """What login attempts are counted under: an HMAC of the username as typed, normalised (NFKC, stripped,
    casefolded), so "Anna " and "anna" share one count, and a name that is no account is counted the same way.
    Keyed, because people type passwords into the username field: a database copy must not reveal them."""
    normal = unicodedata.normalize("NFKC", username).strip().casefold()
    return hmac.new(mac_key, normal.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def csrf_for(session_token: str) -> str:
    """The CSRF token is derived from the (HttpOnly) session token, so it needs no storage."""
    return hmac.new(session_token.encode(), b"csrf", hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
