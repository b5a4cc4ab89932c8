"""The project's nginx configuration in front of two real instances: TLS, WebSockets, failover, privacy.

Debian's nginx runs deploy/nginx/conf.d (upstreams, ports and paths templated, see tests/fault/nginx.py)
in front of two ``minimaria serve`` processes on PostgreSQL and Redis. A visitor and a staff member chat
over https and wss; their instance is stopped with SIGTERM mid-conversation; both reconnect through
nginx, land on the other instance and resume with every message exactly once, in order.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chat.crypto.keyring import FileKeyRing
from tests import services
from tests.client import Staff, Visitor
from tests.fault.flow import STAFF_PASSWORD, Clients, Log, matches, pg_messages, seen, seqs, settle, until_seq
from tests.fault.nginx import Nginx, require_nginx
from tests.fault.procs import Procs, add_staff, db_upgrade, free_ports, service_env, unique_prefix

pytestmark = pytest.mark.slow

STARTS_PER_CLIENT = 2
# Loopback addresses other than nginx's own: the clients whose forwarded address the app must tell apart.
CLIENT_A, CLIENT_B = "127.0.0.2", "127.0.0.3"


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Nginx]:
    require_nginx()
    http_port, https_port, a_port, b_port = free_ports(4)
    nginx = Nginx(tmp_path, (a_port, b_port), http_port, https_port)
    try:
        yield nginx
    finally:
        nginx.stop()


async def start_from(proxy: Nginx, source: str, forwarded_for: str) -> int:
    """POST a conversation start from this local address, claiming another one in X-Forwarded-For."""
    transport = httpx.AsyncHTTPTransport(local_address=source, verify=proxy.tls)
    async with httpx.AsyncClient(base_url=proxy.base, transport=transport) as http:
        r = await http.post("/api/v1/conversations", json={"role": "young"}, headers={"X-Forwarded-For": forwarded_for})
    return r.status_code


async def test_a_chat_through_nginx_survives_its_instance_stopped_with_sigterm(
    procs: Procs, fresh_pg_url: str, clients: Clients, tmp_path: Path, proxy: Nginx
) -> None:
    """Both sockets of a chat are cut by the SIGTERM (1012); through nginx they reach the other instance at once
    and every message, including one in flight at the stop, is seen exactly once and in order by both sides."""
    services.require_redis()
    keys = tmp_path / "keys.json"
    FileKeyRing.create(keys)
    env = service_env(
        database_url=fresh_pg_url, redis_url=services.REDIS_URL, bus_prefix=unique_prefix(), keys_file=str(keys),
        allowed_origins=proxy.base, secure_cookies="true", trusted_proxies="127.0.0.1",
        starts_per_client_per_hour=str(STARTS_PER_CLIENT),
    )
    await db_upgrade(env, cwd=tmp_path)
    await add_staff(env, "anna", "Anna", cwd=tmp_path)
    a, b = procs.server("a", env, proxy.app_ports[0]), procs.server("b", env, proxy.app_ports[1])
    await procs.start_all(a, b)

    # Both clients on A, so that stopping A is sure to hit them: B is marked down until they are
    # connected, then nginx reloads the project's upstream.conf unchanged (both up); the old worker
    # keeps their sockets, the new one takes every new connection.
    await proxy.start(down=(1,))
    visitor = await Visitor.start(proxy.base, tls=proxy.tls)
    clients.add(visitor)
    await visitor.connect()
    staff = Staff(proxy.base, "anna", STAFF_PASSWORD, tls=proxy.tls)
    clients.add(staff)
    await staff.login()
    await staff.connect()
    assert visitor.ws is not None and staff.ws is not None
    assert (await staff.claim(visitor.id)).status_code == 200
    assert (await visitor.ws.expect("state", state="active"))["staff"] == "Anna"
    await proxy.reload()
    v_old, s_old = visitor.ws, staff.ws

    log = Log()
    for n, (side, text) in enumerate(
        [("visitor", "hej, är det någon där?"), ("staff", "Hej! Jag heter Anna."), ("visitor", "jag undrar en sak"),
         ("staff", "Berätta.")],
        start=1,
    ):
        cmid = f"{side[0]}{n}"
        ack = await (visitor.say(text, cmid) if side == "visitor" else staff.say(visitor.id, text, cmid))
        assert log.add(ack, side, text, cmid) == n
        await until_seq(v_old, n)
        await until_seq(s_old, n)

    # The visitor sends, and A is told to stop before the ack can be awaited: stored or not, the
    # client resends it after reconnecting, with the same id.
    in_flight = "det gäller min kompis"
    await v_old.send(type="msg", client_msg_id="v5", text=in_flight)
    a.signal(signal.SIGTERM)
    assert await v_old.closed() == 1012  # service restart: come back
    assert await s_old.closed() == 1012

    # Through nginx again, at once: A no longer accepts, so nginx passes the handshakes on to B.
    welcome = await visitor.connect(last_seq=max(seqs(v_old)))
    assert welcome["state"] == "active"
    await staff.connect(last_seq={visitor.id: max(seqs(s_old))})
    v_new, s_new = visitor.ws, staff.ws
    assert v_new is not None and s_new is not None
    assert log.add(await visitor.say(in_flight, "v5"), "visitor", in_flight, "v5") == 5
    for n, (side, text) in enumerate([("staff", "Vad hände?"), ("visitor", "hon mår dåligt"), ("staff", "Okej.")], 6):
        cmid = f"{side[0]}{n}"
        ack = await (visitor.say(text, cmid) if side == "visitor" else staff.say(visitor.id, text, cmid))
        assert log.add(ack, side, text, cmid) == n
    for ws in (v_new, s_new):
        await until_seq(ws, 8)
        await settle(ws)
    assert await a.wait(10) == 0, "A did not finish its graceful shutdown"

    # Every message sent by either side exactly once, in order, on each side (old and new socket together).
    expected = log.expected
    assert [s[0] for s in expected] == list(range(1, 9))
    assert seqs(v_old, v_new) == seqs(s_old, s_new) == list(range(1, 9))
    assert seen(v_old, v_new) == seen(s_old, s_new) == expected
    assert matches(await pg_messages(fresh_pg_url, visitor.id), expected)

    # The app counts starts per real client (X-Forwarded-For from nginx), and nginx replaces whatever
    # X-Forwarded-For a client sent: changing it does not escape the limit, another address is not limited.
    codes = [await start_from(proxy, CLIENT_A, f"198.51.100.{n}") for n in range(STARTS_PER_CLIENT + 1)]
    assert codes == [201] * STARTS_PER_CLIENT + [429]
    assert await start_from(proxy, CLIENT_B, CLIENT_A) == 201

    async with httpx.AsyncClient(verify=proxy.tls) as http:
        plain = await http.get(f"http://127.0.0.1:{proxy.http_port}/api/v1/intake?q=hemligt")
        assert plain.status_code == 301
        assert plain.headers["location"] == "https://127.0.0.1/api/v1/intake?q=hemligt"
        health = await http.get(proxy.base + "/healthz")
        assert health.json() == {"status": "ok"}  # the app's answer, passed through
        assert health.headers["server"] == "nginx"  # server_tokens off: no version
        intake = await http.get(proxy.base + "/api/v1/intake?q=hemligt")
        assert intake.status_code == 200
        assert (await http.get(proxy.base + "/metrics")).status_code == 404  # scraped per instance, not here
        big = await http.post(proxy.base + "/api/v1/conversations", content=b"x" * 65 * 1024,
                              headers={"Content-Type": "application/json"})
        assert big.status_code == 413

    # nginx logged requests, but no client address, forwarded address or query string.
    logs = proxy.all_logs()
    assert "/api/v1/intake" in proxy.log("access.log")
    for secret in (CLIENT_A, CLIENT_B, "198.51.100.", "hemligt"):
        assert secret not in logs
    assert proxy.log("http-level.log") == ""
    assert CLIENT_A not in a.stderr() + b.stderr()
