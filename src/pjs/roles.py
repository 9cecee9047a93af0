"""Process roles: each `pjs run <role>` is one long-running asyncio program built from settings."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

import asyncpg
import uvicorn

from api.app import create_app
from api.resources import Resources
from events.broker import ensure_topic
from events.relay import Relay, RelayConfig
from events.schema import migrate
from pjs.settings import Settings

log = logging.getLogger("pjs")

Role = Callable[[Settings, asyncio.Event], Awaitable[None]]


async def run_api(settings: Settings, stop: asyncio.Event) -> None:
    config = uvicorn.Config(
        create_app(Resources(settings)),
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        access_log=False,
    )
    # uvicorn traps SIGINT/SIGTERM itself while serving, shuts down gracefully, then re-raises the signal.
    await uvicorn.Server(config).serve()


async def run_relay(settings: Settings, stop: asyncio.Event) -> None:
    await ensure_topic(
        settings.resolved_kafka_bootstrap(), settings.run_events_topic, settings.run_events_partitions
    )
    config = RelayConfig(
        database_url=settings.resolved_database_url(),
        bootstrap=settings.resolved_kafka_bootstrap(),
        topic=settings.run_events_topic,
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_poll_seconds,
    )
    await Relay(config).run(stop)


ROLES: dict[str, Role] = {
    "api": run_api,
    "relay": run_relay,
}


async def apply_migrations(settings: Settings) -> list[str]:
    connection = await asyncpg.connect(settings.resolved_database_url())
    try:
        return [f"{m.number:04d}_{m.name}" for m in await migrate(connection)]
    finally:
        await connection.close()


async def run_role(name: str, settings: Settings) -> None:
    """Run one role until SIGINT or SIGTERM, then let it finish its current work and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("role %s starting", name)
    await ROLES[name](settings, stop)
    log.info("role %s stopped", name)
