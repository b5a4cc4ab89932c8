"""chat/metrics.py in multi-process mode: with PROMETHEUS_MULTIPROC_DIR, worker processes' counters are
summed by whichever process answers the scrape, and a process that exited cleanly leaves the live gauges.

prometheus-client picks its file-backed values when it is imported, from the environment: each worker here
is a separate Python process started with the directory set, as `minimaria serve` workers would be."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

WORKER = """
import sys
from chat.metrics import Metrics
m = Metrics(sys.argv[1])
m.messages_stored.inc(int(sys.argv[2]))
m.open_sockets.labels("visitor").inc()
m.error_frame("rate_limited")
if sys.argv[3] == "exit":
    m.process_exited()
"""
SCRAPE = """
import sys
from chat.metrics import Metrics, Scraped
sys.stdout.write(Metrics(sys.argv[1]).exposition(Scraped(queue_length={"reception": 2})).decode())
"""


def run(code: str, *args: str, directory: Path) -> str:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code, str(directory), *args], env=env, capture_output=True, check=True,
                          timeout=60)
    return done.stdout.decode()


def test_worker_processes_are_summed_and_an_exited_one_leaves_the_live_gauges(tmp_path: Path) -> None:
    run(WORKER, "2", "stay", directory=tmp_path)
    run(WORKER, "3", "exit", directory=tmp_path)
    text = run(SCRAPE, directory=tmp_path)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("minimaria_messages_stored_total", ())] == 5
    assert samples[("minimaria_error_frames_total", (("code", "rate_limited"),))] == 2
    assert samples[("minimaria_open_sockets", (("kind", "visitor"),))] == 1  # the one that exited is not counted
    assert samples[("minimaria_queue_length", (("team", "reception"),))] == 2  # read at scrape time, not summed
