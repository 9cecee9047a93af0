"""The relay publishes every committed event to Kafka, keyed by run, in per-run order, exactly once led."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer

from events.broker import make_producer
from events.catalogue import RecordedEvent
from events.relay import Relay
from pjs.settings import Settings
from pjs.wiring import event_store
from support.kafka import read_topic
from support.relay import append_runs, has_all, relay_config, running
from support.roles import eventually

STANDBY = "pjs-test-standby-relay"


def per_run_versions(events: list[RecordedEvent]) -> dict[UUID, list[int]]:
    versions: dict[UUID, list[int]] = {}
    for event in events:
        versions.setdefault(event.run_id, []).append(event.version)
    return versions


async def test_committed_events_reach_kafka_as_cloudevents_keyed_by_run_in_version_order(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    expected = await append_runs(event_store(pool), runs=30)

    async with running(Relay(relay_config(settings))):
        events, records = await read_topic(
            settings.kafka_connection(), settings.run_events_topic, until=has_all(expected)
        )

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
    attempts = 0  # producers the relay built: one per try to reach Kafka

    def producer_factory() -> AIOKafkaProducer:
        # Until "Kafka comes back", the relay's producer points at a port where nothing listens.
        nonlocal attempts
        attempts += 1
        kafka = settings.kafka_connection()
        unreachable = replace(kafka, bootstrap="127.0.0.1:1")
        return make_producer(kafka if kafka_reachable else unreachable, request_timeout_ms=2000)

    relay = Relay(relay_config(settings), producer_factory)
    async with running(relay):
        expected = await append_runs(event_store(pool), runs=5)
        enough = attempts + 2  # a try begun after the append has failed once the next one begins

        async def tried_after_the_append() -> bool | None:
            return True if attempts >= enough or relay.published else None

        await eventually(tried_after_the_append, seconds=60)
        assert relay.published == 0
        kafka_reachable = True
        events, _ = await read_topic(
            settings.kafka_connection(), settings.run_events_topic, until=has_all(expected)
        )
    assert {event.event_id for event in events} == expected


async def wait_until_leader(relay: Relay) -> None:
    async with asyncio.timeout(10):
        while not relay.is_leader:
            await asyncio.sleep(0.05)


async def tried_for_the_lead_in_vain(pool: asyncpg.Pool, application_name: str) -> bool | None:
    """A connection of that name has asked for the relay's lock and, not leading, sits idle after it."""
    standing_by = await pool.fetchval(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = $1 AND state = 'idle' AND query LIKE 'SELECT pg_try_advisory_lock(%'",
        application_name,
    )
    return True if standing_by else None


async def test_one_relay_leads_and_a_standby_takes_over_when_the_leader_stops(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    standby_config = replace(relay_config(settings), server_settings={"application_name": STANDBY})
    leader, standby = Relay(relay_config(settings)), Relay(standby_config)
    store = event_store(pool)
    stop_leader = asyncio.Event()
    leading = asyncio.create_task(leader.run(stop_leader))
    await wait_until_leader(leader)
    async with running(standby):
        await eventually(lambda: tried_for_the_lead_in_vain(pool, STANDBY), seconds=60)
        assert not standby.is_leader
        before = await append_runs(store, runs=3)
        stop_leader.set()
        await leading
        await wait_until_leader(standby)
        after = await append_runs(store, runs=3)
        events, _ = await read_topic(
            settings.kafka_connection(), settings.run_events_topic, until=has_all(before | after)
        )
    assert {event.event_id for event in events} == before | after
    assert standby.published >= len(after)
