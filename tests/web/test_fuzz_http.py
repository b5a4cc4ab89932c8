"""Schemathesis generates requests for every operation in the server's own /openapi.json and sends them to a
real server, logged in as a supervisor (session cookie, CSRF header, Origin) and with a visitor's bearer
token: whatever the body, path, query or headers, no answer is a 5xx. On SQLite + memory bus and PostgreSQL
+ Redis (PostgreSQL's column types refuse values SQLite stores).

Schemathesis (Hypothesis underneath) runs in a worker thread with blocking requests, while the server runs
on the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chat.settings import Settings
from tests.client import Visitor
from tests.conftest import Running, StaffFactory

pytestmark = pytest.mark.slow
EXAMPLES = 10  # per operation; about 40 operations
SKIPPED = {("POST", "/api/v1/staff/logout")}  # would end the session the rest of the run needs


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(login_max_failures=1_000_000)  # generated logins must not lock the fuzzer out


def fuzz(
    schema: Any, base: str, headers: dict[str, str], cookies: dict[str, str], conversation_id: str
) -> tuple[list[str], Counter[int]]:
    """Every operation's generated cases: the 5xx answers found ("METHOD path -> status"), and every status."""
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in SKIPPED:
            continue

        @hsettings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                   suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(), real=st.booleans())
        def one(case: Any, real: bool) -> None:
            if real and case.path_parameters and "id" in case.path_parameters:
                case.path_parameters["id"] = conversation_id  # half the time a conversation that exists
            response = case.call(base_url=base, headers=headers, cookies=cookies, timeout=30)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

        one()
    return failures, statuses


async def test_generated_requests_for_every_operation_never_get_a_5xx(
    server: Running, make_staff: StaffFactory
) -> None:
    boss = await make_staff("boss", roles=("supervisor",), connect=False)
    visitor = await Visitor.start(server.base)
    assert (await boss.claim(visitor.id)).status_code == 200
    async with httpx.AsyncClient(base_url=server.base) as http:
        spec = (await http.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(spec)
    headers = {"Origin": server.base, "X-CSRF-Token": boss.csrf, "Authorization": f"Bearer {visitor.token}"}
    cookies = {"mm_staff": boss.http.cookies["mm_staff"]}
    failures, statuses = await asyncio.to_thread(fuzz, schema, server.base, headers, cookies, visitor.id)
    assert failures == []
    assert statuses.total() > 200 and len({s for s in statuses if s < 300}) >= 2, statuses  # it did reach the API
    async with httpx.AsyncClient(base_url=server.base) as http:  # and the server still answers
        assert (await http.get("/readyz")).status_code == 200
