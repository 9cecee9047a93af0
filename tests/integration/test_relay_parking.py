"""No event can wedge the relay: one Kafka refuses for its own sake is parked, and the feed flows on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from uuid import UUID

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from prometheus_client import REGISTRY

from events.broker import delete_topics, make_admin, make_producer
from events.catalogue import RecordedEvent, RunStarted
from events.parked import list_parked
from events.relay import Relay
from events.store import PostgresEventStore
from pjs.settings import Settings
from pjs.wiring import event_store
from support.cli import dead_letters_cli
from support.kafka import read_topic
from support.relay import append_runs, has_all, relay_config, running
from support.runs import envelopes, run_started

SMALL_RECORD_LIMIT = 10_000
"""Below the store's limit: a record the store accepts and Kafka refuses."""


def parked_total() -> float:
    return REGISTRY.get_sample_value("pjs_relay_parked_events_total") or 0.0


def started_with_a_note(note: str) -> RunStarted:
    started = run_started()
    return started.model_copy(update={"patient_context": {**started.patient_context, "note": note}})


async def append_a_large_run(store: PostgresEventStore) -> UUID:
    """A run whose first event is a record of ~20 KB: stored, but larger than SMALL_RECORD_LIMIT."""
    run_id = uuid.uuid4()
    written = await store.append(run_id, 0, envelopes(run_id, 0, [started_with_a_note("n" * 20_000)]))
    assert isinstance(written, list)
    return written[0].event_id


async def insert_a_row_of_an_unknown_schema_version(pool: asyncpg.Pool) -> UUID:
    """A row no code can make a record of, written behind the store's back."""
    event_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO events (event_id, run_id, version, type, schema_version, data, recorded_at)"
        " VALUES ($1, $2, 1, 'RunStarted', 99, '{}'::jsonb, now())",
        event_id,
        uuid.uuid4(),
    )
    return event_id


def first_seen_versions(events: list[RecordedEvent]) -> dict[UUID, list[int]]:
    """Each run's versions in the order a consumer deduping by (run id, version) takes them."""
    seen: dict[UUID, list[int]] = {}
    for event in events:
        versions = seen.setdefault(event.run_id, [])
        if event.version not in versions:
            versions.append(event.version)
    return seen


async def test_an_event_the_producer_refuses_is_parked_with_its_reason_and_the_feed_flows_on(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    store = event_store(pool)
    before = await append_runs(store, runs=3)
    too_large = await append_a_large_run(store)
    unencodable = await insert_a_row_of_an_unknown_schema_version(pool)
    after = await append_runs(store, runs=3)
    parked_before = parked_total()
    kafka = settings.kafka_connection()

    def producer_factory() -> AIOKafkaProducer:
        return make_producer(kafka, max_request_size=SMALL_RECORD_LIMIT)

    relay = Relay(relay_config(settings), producer_factory)
    async with running(relay):
        await read_topic(kafka, settings.run_events_topic, until=has_all(before | after))
        later = await append_runs(store, runs=2)
        events, _ = await read_topic(kafka, settings.run_events_topic, until=has_all(before | after | later))

    published = {event.event_id for event in events}
    assert published == before | after | later
    assert all(versions == [1, 2, 3] for versions in first_seen_versions(events).values())
    parked = {event.event_id: event for event in await list_parked(pool)}
    assert parked.keys() == {too_large, unencodable}
    assert parked[too_large].type == "RunStarted"
    assert "MessageSizeTooLargeError" in parked[too_large].reason
    assert parked[unencodable].reason == "UnsupportedSchemaVersion"
    assert "nnnn" not in parked[too_large].reason
    assert parked_total() - parked_before == 2
    assert relay.parked == 2
    listing = await asyncio.to_thread(dead_letters_cli, settings, "parked")
    assert listing.exit_code == 0, listing.output
    assert str(too_large) in listing.output and str(unencodable) in listing.output


@pytest.fixture
async def small_records_topic(settings: Settings) -> AsyncIterator[str]:
    """A topic whose broker refuses any record batch over SMALL_RECORD_LIMIT bytes."""
    name = f"{settings.run_events_topic}.small"
    admin = make_admin(settings.kafka_connection())
    await admin.start()
    try:
        topic = NewTopic(name, 3, 1, topic_configs={"max.message.bytes": str(SMALL_RECORD_LIMIT)})
        await admin.create_topics([topic])
    finally:
        await admin.close()
    yield name
    await delete_topics(settings.kafka_connection(), [name])


async def test_an_event_the_broker_refuses_is_parked_and_every_run_keeps_its_order(
    settings: Settings, pool: asyncpg.Pool, small_records_topic: str
) -> None:
    store = event_store(pool)
    before = await append_runs(store, runs=4)
    too_large = await append_a_large_run(store)
    after = await append_runs(store, runs=4)
    kafka = settings.kafka_connection()

    relay = Relay(replace(relay_config(settings), topic=small_records_topic))
    async with running(relay):
        events, _ = await read_topic(kafka, small_records_topic, until=has_all(before | after))
        later = await append_runs(store, runs=2)
        events, _ = await read_topic(kafka, small_records_topic, until=has_all(before | after | later))

    assert too_large not in {event.event_id for event in events}
    assert all(versions == [1, 2, 3] for versions in first_seen_versions(events).values())
    [parked] = await list_parked(pool)
    assert parked.event_id == too_large
    assert "MessageSizeTooLarge" in parked.reason
