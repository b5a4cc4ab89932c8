"""Prometheus metrics: the families this service exposes at ``GET /metrics``, and their text rendering.

One ``Metrics`` per app. Without ``PROMETHEUS_MULTIPROC_DIR`` its families live in the app's own
``CollectorRegistry`` (never the library's global one, so several apps in one test process do not collide).
With it (several worker processes behind one port), prometheus-client writes every value to files in that
directory and a scrape sums them across the processes (``MultiProcessCollector``).

Events are counted where they happen (a counter increment on the message path, nothing more). What is read
from the store or the presence entries — queue length and oldest wait, teams open, staff online — is gathered
once per scrape (``Scraped``, built by ``chat/service/gauges.py``) and is the same whichever process answers.
No label ever names a person or a conversation: ``team`` is a team id from the region file, ``code`` an error
code, ``kind`` visitor or staff.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Acks and database round trips are milliseconds when healthy; the tail up to seconds is what an alert wants.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Scraped:
    """The values read from the store and presence at scrape time, by team id."""

    queue_length: dict[str, int] = field(default_factory=dict)
    oldest_wait_s: dict[str, float] = field(default_factory=dict)
    team_open: dict[str, bool] = field(default_factory=dict)
    staff_online: dict[str, int] = field(default_factory=dict)


class _ScrapedCollector(Collector):
    def __init__(self, scraped: Scraped) -> None:
        self.scraped = scraped

    def collect(self) -> Iterator[Metric]:
        s = self.scraped
        families = (
            ("minimaria_queue_length", "Conversations waiting in the team's queue.", s.queue_length),
            ("minimaria_queue_oldest_wait_seconds", "How long the longest-waiting conversation in the team's queue "
             "has waited (0 when none waits).", s.oldest_wait_s),
            ("minimaria_team_open", "1 during the team's opening hours, else 0.",
             {t: int(v) for t, v in s.team_open.items()}),
            ("minimaria_staff_online", "Staff members of the team with a console open (on any instance).",
             s.staff_online),
        )
        for name, doc, values in families:
            family = GaugeMetricFamily(name, doc, labels=["team"])
            for team, value in sorted(values.items()):
                family.add_metric([team], float(value))
            yield family


class _Combined(Collector):
    def __init__(self, *parts: Collector) -> None:
        self.parts = parts

    def collect(self) -> Iterator[Metric]:
        for part in self.parts:
            yield from part.collect()


class Metrics:
    """The event-counted families. ``multiprocess_dir`` is the PROMETHEUS_MULTIPROC_DIR setting (None: one process)."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        # In multi-process mode the values go to files whatever the registry: the families are registered nowhere.
        self.registry = CollectorRegistry() if multiprocess_dir is None else None
        reg = self.registry
        self.open_sockets = Gauge("minimaria_open_sockets", "Open WebSocket connections.", ["kind"],
                                  registry=reg, multiprocess_mode="livesum")
        self.messages_stored = Counter("minimaria_messages_stored", "Messages stored (visitor, staff and system).",
                                       registry=reg)
        self.ack_latency = Histogram("minimaria_ack_latency_seconds", "From a msg frame received to its ack sent.",
                                     buckets=LATENCY_BUCKETS, registry=reg)
        self.claims = Counter("minimaria_claims", "Conversations taken by a staff member (claim or accepted offer).",
                              registry=reg)
        self.claim_conflicts = Counter("minimaria_claim_conflicts", "Claims lost to someone who took it first.",
                                       registry=reg)
        self.error_frames = Counter("minimaria_error_frames", "error frames sent on the sockets, by code.", ["code"],
                                    registry=reg)
        self.bus_connected = Gauge("minimaria_bus_connected", "1 when the bus (Redis pub/sub) is connected.",
                                   registry=reg, multiprocess_mode="livemin")
        self.bus_reconnects = Counter("minimaria_bus_reconnects", "Times the bus connection came back after a break.",
                                      registry=reg)
        self.db_latency = Histogram("minimaria_db_latency_seconds", "Database round trips: a group commit of "
                                    "messages, a readiness or periodic ping.", buckets=LATENCY_BUCKETS, registry=reg)
        for kind in ("visitor", "staff"):
            self.open_sockets.labels(kind)  # present at 0 before the first socket
        self._bus_up = False
        self._bus_was_up = False

    # Events (cheap: an increment or an observation).

    def bus_state(self, connected: bool) -> None:
        """The bus reports each change of its connection; coming back after a break counts a reconnect."""
        if connected and not self._bus_up and self._bus_was_up:
            self.bus_reconnects.inc()
        self._bus_up = connected
        self._bus_was_up = self._bus_was_up or connected
        self.bus_connected.set(1 if connected else 0)

    def error_frame(self, code: str) -> None:
        self.error_frames.labels(code).inc()

    # The scrape.

    def exposition(self, scraped: Scraped) -> bytes:
        """The text format of every family (blocking in multi-process mode: it reads the value files)."""
        if self.registry is None:
            assert self.multiprocess_dir is not None
            events = CollectorRegistry()
            MultiProcessCollector(events, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            source: Collector = events
        else:
            source = self.registry
        return generate_latest(_Combined(source, _ScrapedCollector(scraped)))

    def process_exited(self) -> None:
        """In multi-process mode, drop this process's live gauges (open sockets) from the sums."""
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]
