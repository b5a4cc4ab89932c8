"""The Context: what every use case needs (settings, engine, bus, region, clock), built once by app.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from chat.bus.base import Bus
from chat.crypto.envelope import DekCache
from chat.crypto.keyring import KeyProvider
from chat.metrics import Metrics
from chat.service.admission import Admission
from chat.service.limits import ClientKeys
from chat.service.login_guard import Gate
from chat.service.rendering import Renderer
from chat.settings import Settings
from chat.store.writer import MessageWriter
from triage import Region
from triage.risk import RiskMatcher


def utcnow() -> datetime:
    return datetime.now(UTC)


class LiveRegion:
    """The region in effect: the configured one (TOML) with the opening-hours overrides from the database
    merged in. Mutable on purpose, and the only mutable thing a Context holds: service/hours_overrides.py
    replaces ``current`` (a whole new frozen Region, so readers never see half a change) when an admin
    changes an override, on every instance."""

    def __init__(self, configured: Region) -> None:
        self.configured = configured
        self.current = configured
        self.lock = asyncio.Lock()  # one reload at a time: an older read never replaces a newer one


@dataclass(frozen=True)
class Context:
    settings: Settings
    engine: AsyncEngine
    bus: Bus
    live_region: LiveRegion
    writer: MessageWriter
    keys: KeyProvider
    deks: DekCache
    clock: Callable[[], datetime] = field(default=utcnow)
    risk: RiskMatcher = field(default_factory=RiskMatcher.bundled)  # compiled once per process
    limits: ClientKeys = field(default_factory=ClientKeys)  # the day's client-key secret, in memory only
    login_gate: Gate = field(default_factory=Gate)  # this instance's argon2 slots
    admission: Admission = field(default_factory=Admission)  # this instance's hello slots
    metrics: Metrics = field(default_factory=Metrics)  # this app's families (app.py passes the configured one)
    renderer: Renderer = field(default_factory=Renderer)  # each bus message rendered once for this instance's sockets

    @property
    def region(self) -> Region:
        """The region as routing and the pages must see it now (overrides included)."""
        return self.live_region.current
