"""create_app(settings): wiring the engine, bus, region and routes; the lifespan that starts and stops them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from chat import logs
from chat.bus.base import Bus
from chat.bus.memory import MemoryBus
from chat.crypto.envelope import DekCache
from chat.crypto.keyring import EnvKeyRing, FileKeyRing, KeyError_, KeyProvider
from chat.metrics import Metrics
from chat.service import audit, keys, readiness, retention
from chat.service.context import Context, LiveRegion, utcnow
from chat.service.dispatch import Dispatcher
from chat.service.hours_overrides import OverridesWatcher
from chat.service.presence import Tracker
from chat.service.visitors import VisitorTracker
from chat.settings import Settings
from chat.store.db import create_engine
from chat.store.writer import MessageWriter
from chat.web.errors import HANDLERS
from chat.web.middleware import AccessLog
from chat.web.routes import routes
from chat.web.watch import QueueWatcher
from triage import Region, load_region


def make_bus(settings: Settings, metrics: Metrics | None = None) -> Bus:
    if settings.redis_url:
        from chat.bus.redis import RedisBus  # imported only when asked for

        return RedisBus(settings.redis_url, settings.bus_prefix, on_state=metrics.bus_state if metrics else None)
    if metrics is not None:
        metrics.bus_state(True)  # in-process: always there
    return MemoryBus()


def uvicorn_config(app: Starlette, settings: Settings, host: str, port: int) -> Any:
    """uvicorn's settings for this service, deliberately: frame limit, no deflate, keep-alive, quiet logs."""
    import uvicorn

    from chat.web.http_protocol import with_header_timeout

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=with_header_timeout(settings.header_timeout_s),  # slow or unfinished request headers are cut off
        # The client address the visitor limits hash is the real one behind these proxies (X-Forwarded-For).
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        loop="auto",  # uvloop (a dependency) where it installs, else asyncio's own: docs/performance.md
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,  # a larger frame closes the socket with 1009
        ws_per_message_deflate=False,  # CPU and memory per socket, and compression leaks what was typed
        ws_ping_interval=20.0,  # keep-alive pings find dead phones and keep proxies from idling us out
        ws_ping_timeout=20.0,
        access_log=False,  # ours (middleware.AccessLog) logs no addresses
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=5,  # on SIGTERM: sockets get 1012 at once, the rest has 5 s
    )


def make_keyring(settings: Settings) -> KeyProvider:
    """The KEK ring: MINIMARIA_KEYS, else MINIMARIA_KEYS_FILE, else (SQLite only) a development key file
    beside the database, generated on first use. PostgreSQL without keys configured is refused."""
    if settings.keys_json:
        return EnvKeyRing.from_text(settings.keys_json)
    if settings.keys_file is not None:
        return FileKeyRing(settings.keys_file)
    dev = settings.dev_keys_file
    if dev is None:
        raise KeyError_("set MINIMARIA_KEYS_FILE (or MINIMARIA_KEYS): encryption keys are required outside SQLite")
    if not dev.exists():
        ring = FileKeyRing.create(dev)
        logs.event("development_key_file_created", reason="no MINIMARIA_KEYS_FILE set; back it up or lose the data")
        return ring
    return FileKeyRing(dev)


async def every(interval_s: float, job: Callable[[], Awaitable[object]], name: str) -> None:
    """Run ``job`` now and then every ``interval_s`` until cancelled; a failure is logged (type only) and
    tried again next time. Running at start too means frequent restarts cannot starve an hourly job."""
    while True:
        try:
            await job()
        except Exception as err:
            logs.event(f"{name}_failed", level=40, error=type(err).__name__)
        await asyncio.sleep(interval_s)


Job = tuple[str, float, Callable[[], Awaitable[object]]]
SHUTDOWN_STEP_S = 5.0


async def _bounded(step: Awaitable[object], name: str) -> None:
    """Await one shutdown step for at most SHUTDOWN_STEP_S; a step that fails or hangs is logged and left."""
    try:
        async with asyncio.timeout(SHUTDOWN_STEP_S):
            await step
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # this shutdown itself is being cancelled; a cancelled job's own CancelledError is expected
    except Exception as err:
        logs.event("shutdown_step_failed", level=30, reason=name, error=type(err).__name__)


def background_jobs(ctx: Context) -> list[Job]:
    """The server's periodic jobs (name, interval, job): re-reading the key file, so new conversations use a
    primary rotated by another process; and retention, when MINIMARIA_RETENTION_DAYS is set."""
    jobs: list[Job] = [
        ("keys_reload", ctx.settings.keys_reload_s, lambda: keys.reload(ctx)),
        ("idle_close", 3600, lambda: retention.close_idle(ctx, ctx.settings.idle_close_days)),
        # A database round trip now and then, so minimaria_db_latency_seconds moves even when nobody writes.
        ("db_ping", readiness.PING_INTERVAL_S, lambda: readiness.database(ctx)),
    ]
    days = ctx.settings.retention_days
    if days is not None:
        jobs.append(("retention", ctx.settings.retention_interval_s, lambda: retention.run(ctx, days)))
    return jobs


def create_app(
    settings: Settings,
    region: Region | None = None,
    keyring: KeyProvider | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The app. ``clock`` replaces the wall clock (aware UTC) for everything time-dependent: opening
    hours, offers, expiry; tests of out-of-hours behaviour pass a shifted one."""
    region = region or load_region(settings.region_config)
    keyring = keyring or make_keyring(settings)
    engine = create_engine(settings.database_url)
    metrics = Metrics(settings.metrics_multiproc_dir)
    bus = make_bus(settings, metrics)
    # SQLite commits one batch at a time (the writer's thread), but a second batch waits right behind it, so the
    # database never idles while the event loop hands back the first; on PostgreSQL a few batches can be in flight.
    writer = MessageWriter(engine, workers=2 if settings.is_sqlite else 4, metrics=metrics)
    ctx = Context(
        settings=settings, engine=engine, bus=bus, live_region=LiveRegion(region), writer=writer, keys=keyring,
        deks=DekCache(),
        clock=clock or utcnow,
        metrics=metrics,
    )
    watcher = QueueWatcher(ctx)
    tracker = Tracker(ctx)
    visitor_tracker = VisitorTracker(ctx)
    dispatcher = Dispatcher(ctx, settings.dispatch_interval_s)
    hours = OverridesWatcher(ctx)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bus.start()
        await hours.start()  # the region with the database's opening-hours overrides, before anything routes
        await writer.start()
        await watcher.start()
        await tracker.start()
        await visitor_tracker.start()
        await dispatcher.start()
        tasks = [asyncio.create_task(every(i, job, name), name=name) for name, i, job in background_jobs(ctx)]
        await _bounded(audit.anchor(engine, "start"), "audit_anchor")
        await _bounded(keys.check_at_start(ctx), "keys_check")
        logs.event("started", backend=bus.name, url_kind="sqlite" if settings.is_sqlite else "postgresql")
        try:
            yield
        finally:
            app.state.draining = True
            for task in tasks:
                task.cancel()
            for task in tasks:
                await _bounded(task, "job")
            # Each step is bounded: a database or Redis call stuck at shutdown must not keep the process
            # from exiting (the orchestrator would have to SIGKILL it); whatever was stored is stored.
            for name, step in (("dispatcher", dispatcher.stop), ("presence", tracker.stop),
                               ("visitor_presence", visitor_tracker.stop), ("watcher", watcher.stop),
                               ("hours", hours.stop),
                               ("writer", writer.stop), ("bus", bus.close),
                               ("audit_anchor", lambda: audit.anchor(engine, "stop")), ("engine", engine.dispose)):
                await _bounded(step(), name)
            metrics.process_exited()
            logs.event("stopped")

    app = Starlette(
        routes=routes(),
        middleware=[Middleware(AccessLog, hsts=settings.secure_cookies)],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.watcher = watcher
    app.state.tracker = tracker
    app.state.visitor_tracker = visitor_tracker
    app.state.draining = False
    return app
