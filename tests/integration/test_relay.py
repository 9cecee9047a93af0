"""The relay publishes every committed event to Kafka, keyed by run, in per-run order, exactly once led."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer

from events.broker import make_producer
from events.catalogue import RecordedEvent
from events.relay import Relay, RelayConfig
from events.store import PostgresEventStore
from pjs.settings import Settings
from pjs.wiring import event_store
from support.kafka import read_topic
from support.runs import delay, envelopes, message, run_started


def relay_config(settings: Settings) -> RelayConfig:
    return RelayConfig(
        database_url=settings.resolved_database_url(),
        bootstrap=settings.resolved_kafka_bootstrap(),
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


def per_run_versions(events: list[RecordedEvent]) -> dict[UUID, list[int]]:
    versions: dict[UUID, list[int]] = {}
    for event in events:
        versions.setdefault(event.run_id, []).append(event.version)
    return versions


def has_all(expected: set[UUID]) -> object:
    return lambda events: expected <= {event.event_id for event in events}


async def test_committed_events_reach_kafka_as_cloudevents_keyed_by_run_in_version_order(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    expected = await append_runs(event_store(pool), runs=30)

    async with running(Relay(relay_config(settings))):
        events, records = await read_topic(
            settings.resolved_kafka_bootstrap(), settings.run_events_topic, until=has_all(expected)
        )  # type: ignore[arg-type]

    assert {event.event_id for event in events} == expected
    assert all(versions == [1, 2, 3] for versions in per_run_versions(events).values())
    record = records[0]
    headers = dict(record.headers)
    assert record.key == str(events[0].run_id).encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"].startswith(b"pjs.run.") and headers["content-type"] == b"application/json"
    assert headers["ce_subject"] == record.key
    assert {"ce_id", "ce_source", "ce_time", "ce_pjsstreamversion", "ce_pjsposition"} <= headers.keys()


async def test_events_appended_while_kafka_is_unreachable_are_published_once_it_answers(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    kafka_reachable = False

    def producer_factory() -> AIOKafkaProducer:
        # Until "Kafka comes back", the relay's producer points at a port where nothing listens.
        bootstrap = settings.resolved_kafka_bootstrap() if kafka_reachable else "127.0.0.1:1"
        return make_producer(bootstrap, request_timeout_ms=2000)

    relay = Relay(relay_config(settings), producer_factory)
    async with running(relay):
        expected = await append_runs(event_store(pool), runs=5)
        await asyncio.sleep(2)
        assert relay.published == 0
        kafka_reachable = True
        events, _ = await read_topic(
            settings.resolved_kafka_bootstrap(), settings.run_events_topic, until=has_all(expected)
        )  # type: ignore[arg-type]
    assert {event.event_id for event in events} == expected


async def wait_until_leader(relay: Relay) -> None:
    async with asyncio.timeout(10):
        while not relay.is_leader:
            await asyncio.sleep(0.05)


async def test_one_relay_leads_and_a_standby_takes_over_when_the_leader_stops(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    leader, standby = Relay(relay_config(settings)), Relay(relay_config(settings))
    store = event_store(pool)
    stop_leader = asyncio.Event()
    leading = asyncio.create_task(leader.run(stop_leader))
    await wait_until_leader(leader)
    async with running(standby):
        await asyncio.sleep(1.5)  # the standby has tried for the lock at least once
        assert not standby.is_leader
        before = await append_runs(store, runs=3)
        stop_leader.set()
        await leading
        await wait_until_leader(standby)
        after = await append_runs(store, runs=3)
        events, _ = await read_topic(
            settings.resolved_kafka_bootstrap(), settings.run_events_topic, until=has_all(before | after)
        )  # type: ignore[arg-type]
    assert {event.event_id for event in events} == before | after
    assert standby.published >= len(after)
