"""Running a relay in tests: its config over a test's settings, a running relay, runs to publish."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from uuid import UUID

from events.catalogue import RecordedEvent
from events.relay import Relay, RelayConfig
from events.store import PostgresEventStore
from pjs.settings import Settings
from support.runs import delay, envelopes, message, run_started


def relay_config(settings: Settings) -> RelayConfig:
    return RelayConfig(
        database_url=settings.resolved_worker_database_url(),
        kafka=settings.kafka_connection(),
        topic=settings.run_events_topic,
        batch_size=50,
        poll_seconds=0.5,
    )


@contextlib.asynccontextmanager
async def running(relay: Relay) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        async with asyncio.timeout(20):
            await task


async def append_runs(store: PostgresEventStore, runs: int) -> set[UUID]:
    event_ids: set[UUID] = set()
    for _ in range(runs):
        run_id = uuid.uuid4()
        for written in (
            await store.append(run_id, 0, envelopes(run_id, 0, [run_started()])),
            await store.append(run_id, 1, envelopes(run_id, 1, [message(), delay()])),
        ):
            assert isinstance(written, list)
            event_ids.update(event.event_id for event in written)
    return event_ids


def has_all(expected: set[UUID]) -> Callable[[list[RecordedEvent]], bool]:
    return lambda events: expected <= {event.event_id for event in events}
