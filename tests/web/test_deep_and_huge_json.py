"""Regressions found by the fuzzers (test_fuzz_frames.py, test_fuzz_http.py): JSON that Python's parser
accepts or rejects in unusual ways is refused as the client's fault on both sockets and in HTTP bodies,
never ``internal``: an integer past Python's 4,300-digit conversion limit (a ValueError that is not a
JSONDecodeError) is ``bad_json``; a value nested a few hundred levels deep (within the parser's limit, but
deep enough to overflow the recursive surrogate check) is ``invalid``."""

from __future__ import annotations

import httpx
import pytest

from tests.client import WS, Visitor
from tests.conftest import Running, StaffFactory

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # parsing at the edge; no storage involved

HUGE_INT = '{"type":"read","seq":' + "9" * 5000 + "}"
DEEP = '{"type":"msg","client_msg_id":"deep","text":"hej","extra":' + "[" * 500 + "]" * 500 + "}"


async def refused(ws: WS, raw: str) -> dict[str, object]:
    await ws.send_raw(raw)
    return await ws.expect("error")


async def test_an_integer_past_the_digit_limit_is_bad_json_on_both_sockets(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    assert visitor.ws is not None and anna.ws is not None
    for ws in (visitor.ws, anna.ws):
        assert (await refused(ws, HUGE_INT))["code"] == "bad_json"
        await ws.send(type="ping")
        await ws.expect("pong")  # still open and answering


async def test_deep_nesting_is_invalid_on_both_sockets(
    server: Running, visitor: Visitor, make_staff: StaffFactory
) -> None:
    anna = await make_staff("anna")
    assert visitor.ws is not None and anna.ws is not None
    for ws in (visitor.ws, anna.ws):
        error = await refused(ws, DEEP)
        assert (error["code"], error["message"]) == ("invalid", "The JSON is nested too deeply.")
        assert error["client_msg_id"] == "deep"


async def test_huge_integers_and_deep_nesting_in_an_http_body_are_refused_as_the_clients_fault(server: Running) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        huge = await http.post("/api/v1/conversations", content='{"role":"young","x":' + "1" * 5000 + "}")
        assert huge.status_code == 400
        assert huge.json()["error"]["code"] == "bad_json"
        deep = await http.post("/api/v1/conversations", content='{"role":"young","x":' + "[" * 500 + "]" * 500 + "}")
        assert deep.status_code == 400
        assert deep.json()["error"] == {"code": "invalid", "message": "The JSON is nested too deeply."}
