"""create_app(settings): wiring the engine, bus, region and routes; the lifespan that starts and stops them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from chat import logs
from chat.bus.base import Bus
from chat.bus.memory import MemoryBus
from chat.service.context import Context
from chat.settings import Settings
from chat.store.db import create_engine
from chat.web.errors import HANDLERS
from chat.web.middleware import AccessLog
from chat.web.routes import routes
from chat.web.watch import QueueWatcher
from triage import Region, load_region


def make_bus(settings: Settings) -> Bus:
    if settings.redis_url:
        from chat.bus.redis import RedisBus  # imported only when asked for

        return RedisBus(settings.redis_url, settings.bus_prefix)
    return MemoryBus()


def create_app(settings: Settings, region: Region | None = None) -> Starlette:
    region = region or load_region(settings.region_config)
    engine = create_engine(settings.database_url)
    bus = make_bus(settings)
    ctx = Context(settings=settings, engine=engine, bus=bus, region=region)
    watcher = QueueWatcher(ctx)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bus.start()
        await watcher.start()
        logs.event("started", backend=bus.name, url_kind="sqlite" if settings.is_sqlite else "postgresql")
        try:
            yield
        finally:
            app.state.draining = True
            await watcher.stop()
            await bus.close()
            await engine.dispose()
            logs.event("stopped")

    app = Starlette(
        routes=routes(),
        middleware=[Middleware(AccessLog)],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.watcher = watcher
    app.state.draining = False
    return app
