"""Process roles: each `pjs run <role>` is one long-running asyncio program built from settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from urllib.parse import unquote, urlsplit

import asyncpg
import uvicorn
import uvloop

from api.app import create_app
from api.header_deadline import with_header_deadline
from engine.channels import ChannelRouter
from engine.delivery_worker import DeliveryConfig
from engine.timer import TimerConfig
from events.broker import ensure_topic
from events.catalogue import WAKE_UP_TYPES, MessageRequested, RunEventClass
from events.consumer_group import GroupLoop
from events.grants import Duty
from events.group_config import GroupConfig
from events.pools import connect
from events.relay import Relay, RelayConfig
from events.schema import migrate
from events.waiting import ABANDONED
from pjs import wiring
from pjs.settings import Settings
from pjs.startup_waits import until_kafka_answers
from pjs.stored_journey_checks import warn_of_unsendable_journeys
from pjs.tracing import instrument_api
from pjs.wiring import api_resources, create_pool, session_limits
from projections.projector import Projector
from subscribers.analytics import run_analytics
from subscribers.audit import run_audit

log = logging.getLogger("pjs")

Role = Callable[[Settings, asyncio.Event], Awaitable[None]]


async def run_api(settings: Settings, stop: asyncio.Event) -> None:
    app = create_app(api_resources(settings))
    instrument_api(app)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        access_log=False,
        # uvicorn's httptools protocol (the C parser; h11, pure Python, cost the most CPU per request) with
        # a deadline on each request's head, which uvicorn lacks (api/header_deadline.py)
        http=with_header_deadline(settings.api_header_timeout_seconds),
        loop="none",  # the loop is already running: `event_loop_factory` made it (uvloop for the api)
        timeout_keep_alive=settings.api_keep_alive_seconds,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_seconds / 2)),
    )
    # uvicorn traps SIGINT/SIGTERM itself while serving, shuts down gracefully, then re-raises the signal.
    await uvicorn.Server(config).serve()


def event_loop_factory(roles: Sequence[str]) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """A process with the api runs on uvloop (its socket writes and callbacks in C); the others on asyncio's
    own."""
    return uvloop.new_event_loop if "api" in roles else None


async def run_relay(settings: Settings, stop: asyncio.Event) -> None:
    if not await _ensure_run_events_topic(settings, stop):
        return
    config = RelayConfig(
        database_url=settings.resolved_worker_database_url(),
        kafka=settings.kafka_connection(),
        topic=settings.run_events_topic,
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_poll_seconds,
        checkpoint_seconds=settings.relay_checkpoint_interval_ms / 1000,
        server_settings=session_limits(settings).server_settings(),
    )
    await Relay(config).run(stop)


def group_config(
    settings: Settings,
    group: str,
    batch_size: int,
    event_types: tuple[RunEventClass, ...] | None = None,
    *,
    read_side: bool = False,
) -> GroupConfig:
    """`read_side`: a group off the runs' path (projector, audit, analytics), which may wait longer."""
    wait_ms = (
        settings.consumer_read_side_fetch_max_wait_ms if read_side else settings.consumer_fetch_max_wait_ms
    )
    return GroupConfig(
        kafka=settings.kafka_connection(),
        topic=settings.run_events_topic,
        group=group,
        batch_size=batch_size,
        max_retry_seconds=settings.consumer_max_retry_seconds,
        revoke_wait_seconds=settings.rebalance_wait_seconds,
        stop_wait_seconds=settings.shutdown_seconds / 2,  # within the role's own bound, see run_roles
        event_types=event_types,
        poison_retries=settings.consumer_poison_retries,
        fetch_min_bytes=settings.consumer_fetch_min_bytes,
        fetch_max_wait_ms=wait_ms,
        commit_interval_seconds=settings.consumer_commit_interval_ms / 1000,
    )


@asynccontextmanager
async def _pool_for(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings)
    try:
        yield pool
    finally:
        await pool.close()


async def _ensure_run_events_topic(settings: Settings, stop: asyncio.Event) -> bool:
    """Create the topic if it is missing, waiting for a broker not reachable yet (one that starts after us,
    on a host's reboot) until `stop` or `PJS_STARTUP_KAFKA_WAIT_SECONDS`; whether the role should go on."""
    kafka = settings.kafka_connection()

    async def ensure() -> bool:
        await ensure_topic(
            kafka,
            settings.run_events_topic,
            settings.run_events_partitions,
            retention_ms=settings.run_events_retention_hours * 3_600_000,
        )
        return True

    what = f"creating topic {settings.run_events_topic} on Kafka at {kafka.bootstrap}"
    return await until_kafka_answers(ensure, stop, settings, what=what) is not ABANDONED


async def run_engine(settings: Settings, stop: asyncio.Event) -> None:
    if not await _ensure_run_events_topic(settings, stop):
        return
    async with _pool_for(settings) as pool:
        engine = wiring.engine_worker(pool, settings)
        config = group_config(settings, settings.engine_group, settings.engine_batch_size, WAKE_UP_TYPES)
        await GroupLoop(config, engine.handle, wiring.dead_letters(pool)).run(stop)


def message_channel(settings: Settings) -> ChannelRouter:
    """Every configured channel behind one router; the default channel is one of them (the settings refuse
    a default without its endpoint: `pjs.channel_settings`)."""
    if (problem := settings.default_channel_problem()) is not None:  # settings made without validation
        raise ValueError(problem)
    return ChannelRouter(wiring.message_channels(settings), settings.message_channel)


async def run_delivery(settings: Settings, stop: asyncio.Event) -> None:
    if not await _ensure_run_events_topic(settings, stop):
        return
    channel = message_channel(settings)
    async with _pool_for(settings) as pool:
        await warn_of_unsendable_journeys(pool, wiring.unsendable_channels(settings))
        config = DeliveryConfig(settings.delivery_concurrency, settings.delivery_lease_seconds)
        worker = wiring.delivery_worker(pool, channel, config, settings)
        group = group_config(
            settings, settings.delivery_group, settings.delivery_batch_size, (MessageRequested,)
        )
        try:
            await GroupLoop(group, worker.handle, wiring.dead_letters(pool)).run(stop)
        finally:
            await channel.aclose()


async def run_timer(settings: Settings, stop: asyncio.Event) -> None:
    async with _pool_for(settings) as pool:
        config = TimerConfig(settings.timer_batch_size, settings.timer_max_sleep_seconds)
        await wiring.timer(pool, config, settings).run(stop)


async def run_projector(settings: Settings, stop: asyncio.Event) -> None:
    if not await _ensure_run_events_topic(settings, stop):
        return
    async with _pool_for(settings) as pool:
        config = group_config(
            settings, settings.projector_group, settings.projector_batch_size, read_side=True
        )
        await Projector(config, pool).run(stop)


async def run_audit_subscriber(settings: Settings, stop: asyncio.Event) -> None:
    if not await _ensure_run_events_topic(settings, stop):
        return
    async with _pool_for(settings) as pool:
        config = group_config(settings, settings.audit_group, settings.projector_batch_size, read_side=True)
        await run_audit(config, pool, stop)


async def run_analytics_subscriber(settings: Settings, stop: asyncio.Event) -> None:
    if not await _ensure_run_events_topic(settings, stop):
        return
    config = group_config(settings, settings.analytics_group, settings.projector_batch_size, read_side=True)
    async with _pool_for(settings) as pool:  # for its dead letters only
        await run_analytics(config, wiring.analytics_files(settings), wiring.dead_letters(pool), stop)


ROLES: dict[str, Role] = {
    "api": run_api,
    "relay": run_relay,
    "engine": run_engine,
    "delivery": run_delivery,
    "timer": run_timer,
    "projector": run_projector,
    "audit": run_audit_subscriber,
    "analytics": run_analytics_subscriber,
}


async def apply_migrations(settings: Settings) -> list[str]:
    """Migrate as the schema owner, then grant the API's and the workers' roles what each needs (when
    they are other roles; one role serving both gets both's)."""
    limits = session_limits(settings).for_admin_work()
    connection = await connect(settings.resolved_migration_database_url(), limits)
    try:
        return [f"{m.number:04d}_{m.name}" for m in await migrate(connection, _grantees(settings))]
    finally:
        await connection.close()


def _grantees(settings: Settings) -> dict[str, set[Duty]]:
    owner = _user_of(settings.resolved_migration_database_url())
    grantees: dict[str, set[Duty]] = {}
    for url, duty in (
        (settings.resolved_database_url(), Duty.API),
        (settings.resolved_worker_database_url(), Duty.WORKERS),
    ):
        if (user := _user_of(url)) and user != owner:
            grantees.setdefault(user, set()).add(duty)
    return grantees


def _user_of(url: str) -> str | None:
    user = urlsplit(url).username
    return unquote(user) if user else None
