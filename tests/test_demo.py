"""`minimaria serve --demo` run as a real process on a temp SQLite file: besides the demo accounts it seeds
canned answers in Swedish and English for the reception and a few teams, once, however often it starts."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests import services
from tests.fault.procs import minimaria_cmd, service_env

TITLES_SV = ["Avslutning", "Hälsning", "Krisnummer", "Vänta en stund", "Öppettider"]
TITLES_EN = ["Crisis numbers", "Ending", "Greeting", "One moment", "Opening hours"]


def launch(workdir: Path, port: int, out: IO[str]) -> subprocess.Popen[bytes]:
    env = service_env(database_url=f"sqlite+aiosqlite:///{workdir / 'demo.db'}")
    return subprocess.Popen([*minimaria_cmd(), "serve", "--demo", "--port", str(port)], env=env, cwd=workdir,
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL, start_new_session=True)


async def serve_demo(workdir: Path) -> tuple[str, list[dict[str, Any]]]:
    """Start `serve --demo`, wait until it serves, log in as the printed admin, stop it: its stdout and the
    canned answers the admin sees."""
    port = services.free_port()
    out = (workdir / "stdout.log").open("w")
    proc = launch(workdir, port, out)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=1.0) as http:
            for _ in range(300):
                assert proc.poll() is None, (workdir / "stdout.log").read_text()
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("serve --demo was not ready")
            text = (workdir / "stdout.log").read_text()
            passwords = dict(re.findall(r"^  (\S+)\s+(\S+)\s+\(", text, re.MULTILINE))
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, headers={"Origin": base}) as staff:
                r = await staff.post("/api/v1/staff/login", json={"username": "admin", "password": passwords["admin"]})
                assert r.status_code == 200, r.text
                canned = (await staff.get("/api/v1/staff/canned")).json()["canned"]
        return text, list(canned)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        out.close()


async def test_the_demo_has_canned_answers_for_reception_and_a_few_teams_and_seeds_them_once(tmp_path: Path) -> None:
    first_out, canned = await serve_demo(tmp_path)

    by_team: dict[str, dict[str, list[str]]] = {}
    for c in canned:
        by_team.setdefault(c["team"], {}).setdefault(c["language"], []).append(c["title"])
    assert list(by_team) == ["children", "north", "reception", "south"]  # the reception and three teams
    for titles in by_team.values():
        assert sorted(titles["sv"]) == TITLES_SV
        assert sorted(titles["en"]) == TITLES_EN
    reception = {c["title"]: c["body"] for c in canned if c["team"] == "reception"}
    assert reception["Vänta en stund"] == "Jag kollar med en kollega, vänta en stund så återkommer jag."
    assert "112 – SOS Alarm" in reception["Krisnummer"] and "90101" in reception["Krisnummer"]  # from the region
    assert "öppet mån–tor 09:00–21:00, fre 09:00–17:00, lör–sön 13:00–17:00." in reception["Öppettider"]
    assert "open Mon–Thu 09:00–21:00, Fri 09:00–17:00, Sat–Sun 13:00–17:00." in reception["Opening hours"]
    assert "demo canned answers: 40 added" in first_out

    again_out, again = await serve_demo(tmp_path)  # the same database: nothing is added twice

    assert "demo canned answers: 0 added" in again_out
    assert sorted((c["id"], c["title"]) for c in again) == sorted((c["id"], c["title"]) for c in canned)
