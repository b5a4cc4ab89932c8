"""Staff accounts: create, log in (argon2id in a bounded thread pool, after the attempt is counted: see
login_guard.py), sessions, log out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chat import logs
from chat.crypto import tokens
from chat.errors import BadInput, Code, Conflict, Unauthorized
from chat.service import access, events, login_guard
from chat.service.access import Principal, StaffRole
from chat.service.context import Context
from chat.store import staff as store
from chat.wire import Logout

PRODUCTION = PasswordHasher()  # argon2id with the library's current recommended parameters (RFC 9106)
_hasher = PRODUCTION  # tests/conftest.py swaps in a cheap one
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password: made
# with the hasher in use (tests swap in a cheap one), once per hasher.
_dummy: tuple[PasswordHasher, str] | None = None
MIN_PASSWORD = 10


@dataclass(frozen=True)
class Login:
    principal: Principal
    session_token: str
    csrf_token: str


def principal(rec: store.StaffRecord, expires: datetime | None = None) -> Principal:
    return Principal(rec.id, rec.username, rec.display_name, tuple(rec.roles), tuple(rec.teams), expires)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def _dummy_hash() -> str:
    global _dummy
    hasher = _hasher
    if _dummy is None or _dummy[0] is not hasher:
        _dummy = (hasher, await asyncio.to_thread(hasher.hash, tokens.new_token()))
    return _dummy[1]


def _check(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadInput(Code.INVALID, f"A password needs at least {MIN_PASSWORD} characters.")


def check_roles(roles: list[str]) -> None:
    unknown = [r for r in roles if r not in set(StaffRole)]
    if unknown or not roles:
        raise BadInput(Code.INVALID, "Roles must be among: " + ", ".join(StaffRole))


def check_teams(ctx: Context, teams: list[str]) -> None:
    unknown_teams = [t for t in teams if ctx.region.team(t) is None]
    if unknown_teams:
        raise BadInput(Code.INVALID, "Teams must be among the region's: " + ", ".join(t.id for t in ctx.region.teams))


def check_team_for_roles(roles: list[str], teams: list[str]) -> None:
    """The one rule for the CLI and the admin page: a role that works a team's queue needs a team."""
    role = access.role_missing_a_team(roles, teams)
    if role is not None:
        raise BadInput(Code.TEAM_REQUIRED, f"The role {role} needs at least one team; only supervisor and admin "
                                           "work without one.")


async def add_staff(
    ctx: Context, username: str, password: str, roles: list[str], teams: list[str], display_name: str | None = None
) -> int:
    if not username or len(username) > 64 or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise BadInput(Code.INVALID, "A username is 1–64 letters, digits, dots, dashes or underscores.")
    check_password(password)
    check_roles(roles)
    check_teams(ctx, teams)
    check_team_for_roles(roles, teams)
    try:
        return await store.add(
            ctx.engine, username, display_name or username, await hash_password(password), roles, teams, ctx.clock()
        )
    except store.UsernameTaken:
        raise Conflict(Code.CONFLICT, "That username is taken.") from None


async def set_password(ctx: Context, username: str, password: str) -> None:
    check_password(password)
    if not await store.set_password(ctx.engine, username, await hash_password(password)):
        raise BadInput(Code.NOT_FOUND, "No such staff member.")
    await login_guard.forget(ctx, username)


async def login(ctx: Context, username: str, password: str) -> Login:
    """The same answers, in the same time, for a name that is no account as for one that is: both are counted
    (and refused) alike, and both cost one argon2 verification when checked."""
    rec = await store.by_username(ctx.engine, username)
    staff_id = rec.id if rec is not None else None
    try:
        attempt = await login_guard.take(ctx, login_guard.key_for(ctx, username))
    except login_guard.Refused:
        logs.event("staff_login_throttled", staff_id=staff_id)
        raise
    known = rec is not None and rec.active
    password_hash = rec.password_hash if rec is not None and known else await _dummy_hash()
    s = ctx.settings
    right = await ctx.login_gate.run(s.login_concurrency, s.login_queue_timeout_s, _check, _hasher, password_hash,
                                     password)
    now = ctx.clock()
    if not (right and known):
        await store.audit(ctx.engine, staff_id, "staff_login_failed", None, now)
        if attempt.throttled_after:
            await store.audit(ctx.engine, staff_id, "staff_login_throttled", None, now)
        if attempt.global_full:
            await store.audit(ctx.engine, None, "staff_login_throttled", None, now, target="all")
        logs.event("staff_login_failed", staff_id=staff_id)
        raise Unauthorized(Code.LOGIN_FAILED, "Wrong username or password.")
    assert rec is not None
    await login_guard.succeeded(ctx, attempt)
    token = tokens.new_token()
    expires = now + timedelta(hours=ctx.settings.staff_session_hours)
    await store.open_session(ctx.engine, rec.id, tokens.token_hash(token), now, expires)
    await store.audit(ctx.engine, rec.id, "staff_login", None, now)
    logs.event("staff_login", staff_id=rec.id)
    return Login(principal(rec, expires), token, tokens.csrf_for(token))


async def authenticate(ctx: Context, session_token: str | None) -> Principal:
    if not session_token:
        raise Unauthorized(Code.UNAUTHORIZED, "Log in first.")
    found = await store.session(ctx.engine, tokens.token_hash(session_token))
    if found is None:
        raise Unauthorized(Code.UNAUTHORIZED, "Log in first.")
    rec, expires = found
    if expires <= ctx.clock():
        raise Unauthorized(Code.SESSION_EXPIRED, "Your session has expired; log in again.")
    if not rec.active:
        raise Unauthorized(Code.UNAUTHORIZED, "This account is deactivated.")
    return principal(rec, expires)


def check_alive(ctx: Context, p: Principal) -> None:
    """Raise when the session a socket was opened with has run out (checked on each of its frames)."""
    if p.session_expires is not None and ctx.clock() >= p.session_expires:
        raise Unauthorized(Code.SESSION_EXPIRED, "Your session has expired; log in again.")


def csrf_token(session_token: str) -> str:
    """The CSRF token that goes with a session (``me`` gives it to the page)."""
    return tokens.csrf_for(session_token)


def csrf_ok(session_token: str, sent: str) -> bool:
    """Whether a state-changing request carries the session's CSRF token (compared in constant time)."""
    return tokens.same(sent, tokens.csrf_for(session_token))


async def logout(ctx: Context, session_token: str, p: Principal) -> None:
    await store.close_session(ctx.engine, tokens.token_hash(session_token))
    # Every socket of this session, on every instance, closes.
    await events.to_staff(ctx, p.id, Logout(session=tokens.token_hash(session_token)))
    logs.event("staff_logout", staff_id=p.id)
