"""The one place that builds pools, the event store and the API's backends from settings.

Nothing here connects at import time; every other package is handed what it needs.
"""

from __future__ import annotations

import asyncpg

from api.limits import Limits
from api.resources import Backends, Resources
from engine.channels import Channel
from engine.delays import PostgresDelayQueue
from engine.delivery_worker import DeliveryConfig, DeliveryWorker
from engine.engine_worker import EngineWorker
from engine.journey_repository import PostgresJourneyRepository
from engine.message_deliveries import PostgresDeliveryLedger
from engine.run_status import PostgresRunHeads
from engine.timer import Timer, TimerConfig
from engine.write_models import INLINE_PROJECTIONS, WRITE_MODELS
from events.projection import Projection
from events.store import PostgresEventStore
from pjs.settings import Settings
from projections.read_models import READ_MODELS

REBUILDABLE: dict[str, Projection] = {p.name: p for p in (*WRITE_MODELS, *READ_MODELS)}
"""Every projection `pjs replay` can rebuild, by name."""


async def create_pool(settings: Settings, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(settings.resolved_database_url(), min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


def event_store(pool: asyncpg.Pool) -> PostgresEventStore:
    """The event store with every inline projection (run status, delays, deliveries) in its append."""
    return PostgresEventStore(pool, INLINE_PROJECTIONS)


def engine_worker(pool: asyncpg.Pool) -> EngineWorker:
    return EngineWorker(PostgresRunHeads(pool), event_store(pool), PostgresJourneyRepository(pool))


def delivery_worker(pool: asyncpg.Pool, channel: Channel, config: DeliveryConfig) -> DeliveryWorker:
    ledger = PostgresDeliveryLedger(pool, event_store(pool))
    return DeliveryWorker(PostgresRunHeads(pool), ledger, channel, config)


def timer(pool: asyncpg.Pool, config: TimerConfig) -> Timer:
    return Timer(PostgresDelayQueue(pool, event_store(pool)), config)


def http_limits(settings: Settings) -> Limits:
    """The HTTP edge's limits, from their PJS_MAX_* settings."""
    return Limits(
        max_body_bytes=settings.max_body_bytes,
        max_patient_context_bytes=settings.max_patient_context_bytes,
        max_journey_bytes=settings.max_journey_bytes,
        max_journey_nodes=settings.max_journey_nodes,
        max_json_depth=settings.max_json_depth,
        max_id_length=settings.max_id_length,
        max_text_length=settings.max_text_length,
    )


def api_resources(settings: Settings) -> Resources:
    """The API's resources, unopened: the app's lifespan opens them through `open_backends`."""

    async def open_backends() -> Backends:
        pool = await create_pool(settings)
        return Backends(pool, event_store(pool), PostgresRunHeads(pool), PostgresJourneyRepository(pool))

    return Resources(
        open_backends, kafka_bootstrap=settings.resolved_kafka_bootstrap(), limits=http_limits(settings)
    )
