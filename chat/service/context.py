"""The Context: what every use case needs (settings, engine, bus, region, clock), built once by app.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from chat.bus.base import Bus
from chat.crypto.envelope import DekCache
from chat.crypto.keyring import KeyProvider
from chat.settings import Settings
from chat.store.writer import MessageWriter
from triage import Region
from triage.risk import RiskMatcher


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    settings: Settings
    engine: AsyncEngine
    bus: Bus
    region: Region
    writer: MessageWriter
    keys: KeyProvider
    deks: DekCache
    clock: Callable[[], datetime] = field(default=utcnow)
    risk: RiskMatcher = field(default_factory=RiskMatcher.bundled)  # compiled once per process
