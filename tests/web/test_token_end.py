"""Ending a visitor token closes the sockets opened with it at once, on whichever instance holds them: a
return code that replaces the token (the old socket gets ``token_expired`` with reason ``token_replaced``
and close 4401; the new one keeps chatting), and quick exit. On SQLite + memory bus and PostgreSQL + Redis,
and across two instances on one Redis."""

from __future__ import annotations

import httpx
import pytest

from chat.settings import Settings
from tests.client import Visitor
from tests.conftest import Running, serve


async def use_code(base: str, code: str) -> Visitor:
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post("/api/v1/conversations", json={"role": "young", "return_code": code})
    assert r.status_code == 201, r.text
    return Visitor(base, r.json())


async def test_a_return_code_closes_the_socket_of_the_token_it_replaced(server: Running) -> None:
    old = await Visitor.start(server.base)
    await old.connect()
    await old.say("före", "m1")
    new = await use_code(server.base, old.started["return_code"])
    assert new.id == old.id
    assert old.ws is not None
    refused = await old.ws.expect("error")
    assert (refused["code"], refused["reason"]) == ("token_expired", "token_replaced")
    assert await old.ws.closed() == 4401
    await new.connect()
    assert (await new.say("efter", "m2"))["seq"] == 2  # the new token chats on
    await new.ws.close()  # type: ignore[union-attr]


async def test_quick_exit_closes_an_open_socket_of_the_token(server: Running) -> None:
    visitor = await Visitor.start(server.base)
    await visitor.connect()
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post("/api/v1/visitor/forget", headers={"Authorization": f"Bearer {visitor.token}"})
    assert r.status_code == 204
    assert visitor.ws is not None
    assert (await visitor.ws.expect("error"))["code"] == "token_expired"
    assert await visitor.ws.closed() == 4401


@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_return_code_used_on_another_instance_closes_the_old_socket(settings: Settings) -> None:
    async with serve(settings) as one, serve(settings) as two:
        old = await Visitor.start(one.base)
        await old.connect()
        new = await use_code(two.base, old.started["return_code"])
        assert old.ws is not None
        assert (await old.ws.expect("error"))["reason"] == "token_replaced"
        assert await old.ws.closed() == 4401
        await new.connect(two.base)
        assert (await new.say("hej", "m1"))["seq"] >= 1
        await new.ws.close()  # type: ignore[union-attr]
