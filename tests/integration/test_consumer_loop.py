"""The one consumer loop on the real stack: past records it cannot decode, through a stop, and on restart."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Sequence

import asyncpg
import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from events.catalogue import RecordedEvent
from events.consumer_group import GroupLoop
from events.dead_letters import PostgresDeadLetters
from events.group_config import GroupConfig
from pjs.roles import group_config
from pjs.settings import Settings
from pjs.wiring import event_store
from projections.projector import Projector
from support.kafka import (
    RawRecord,
    ce_headers,
    committed_offsets,
    produce,
    publish_everything,
    read_topic,
)
from support.roles import eventually, running_tasks
from support.workload import write_mixed_workload

PATIENT_DATA = "Jane Roe, born 1961-04-02"
"""What a payload can hold; it must never reach a log."""


def undecodable_records(partitions: int) -> list[RawRecord]:
    """On every partition a `ce_type` that is not UTF-8; then a bad payload, an unknown type, no type."""
    payload = f'{{"node_id": "welcome", "message": "Dear {PATIENT_DATA}"}}'.encode()
    garbled = [("ce_type", b"\xff\xfepjs.run.MessageRequested.v1"), *ce_headers(None)]
    return [
        *(RawRecord(partition, payload, garbled) for partition in range(partitions)),
        RawRecord(0, payload[:-5], ce_headers("pjs.run.MessageRequested.v1")),  # truncated JSON
        RawRecord(1, payload.replace(b'"welcome"', b"7"), ce_headers("pjs.run.MessageRequested.v1")),
        RawRecord(2, payload, ce_headers("pjs.run.PatientPhoned.v1")),  # a type no reader knows
        RawRecord(3, payload, ce_headers(None)),
    ]


def undecodable_count(group: str) -> float:
    """The counter an operator watches: records a group skipped because it could not decode them."""
    value = REGISTRY.get_sample_value("pjs_consumer_undecodable_records_total", {"group": group})
    return value or 0.0


def projector_config(settings: Settings, stop_wait_seconds: float = 10.0) -> GroupConfig:
    config = group_config(settings, settings.projector_group, settings.projector_batch_size)
    return dataclasses.replace(config, stop_wait_seconds=stop_wait_seconds)


async def stored_offsets(pool: asyncpg.Pool, group: str) -> dict[TopicPartition, int]:
    rows = await pool.fetch(
        "SELECT topic, partition, next_offset FROM projector_offsets WHERE consumer_group = $1", group
    )
    return {TopicPartition(row["topic"], row["partition"]): row["next_offset"] for row in rows}


async def timeline_matches_store(pool: asyncpg.Pool) -> bool:
    timeline = await pool.fetch("SELECT run_id, version, type FROM run_timeline ORDER BY run_id, version")
    stored = await pool.fetch("SELECT run_id, version, type FROM events ORDER BY run_id, version")
    return timeline == stored


async def test_the_projector_skips_records_it_cannot_decode_and_projects_the_events_after_them(
    settings: Settings, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    kafka, topic, group = (
        settings.kafka_connection(),
        settings.run_events_topic,
        settings.projector_group,
    )
    bad = undecodable_records(settings.run_events_partitions)
    await produce(kafka, topic, bad)  # every partition starts with a record nobody can decode
    await write_mixed_workload(event_store(pool), runs=12)

    ends = await publish_everything(settings, pool)
    async with running_tasks(Projector(projector_config(settings), pool).run):
        await eventually(lambda: timeline_matches_store(pool))
        await eventually(lambda: _equal(stored_offsets(pool, group), ends))
        await eventually(lambda: _equal(committed_offsets(kafka, group), ends))

    assert undecodable_count(group) == len(bad)
    for partition, offset in [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (1, 1), (2, 1), (3, 1)]:
        assert f"{topic}[{partition}]@{offset}" in caplog.text
    assert PATIENT_DATA not in caplog.text


async def test_a_group_committing_to_kafka_skips_records_it_cannot_decode_and_commits_past_them(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    kafka, topic = settings.kafka_connection(), settings.run_events_topic
    group = f"{settings.projector_group}-audit"
    bad = undecodable_records(settings.run_events_partitions)
    await produce(kafka, topic, bad)
    await write_mixed_workload(event_store(pool), runs=8)
    stored_ids = {row["event_id"] for row in await pool.fetch("SELECT event_id FROM events")}
    handled: list[RecordedEvent] = []

    async def handle(events: Sequence[RecordedEvent]) -> None:
        handled.extend(events)

    async def all_handled() -> bool:
        return {event.event_id for event in handled} == stored_ids

    ends = await publish_everything(settings, pool)
    async with running_tasks(
        GroupLoop(GroupConfig(kafka, topic, group), handle, PostgresDeadLetters(pool)).run
    ):
        await eventually(all_handled)
        await eventually(lambda: _equal(committed_offsets(kafka, group), ends))

    assert undecodable_count(group) == len(bad)


async def test_a_group_commits_at_most_once_an_interval_and_what_still_waits_when_it_stops(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    kafka, topic = settings.kafka_connection(), settings.run_events_topic
    group = f"{settings.projector_group}-interval"
    handled: set[object] = set()

    async def handle(events: Sequence[RecordedEvent]) -> None:
        handled.update(event.event_id for event in events)

    async def all_handled() -> bool:
        return handled == {row["event_id"] for row in await pool.fetch("SELECT event_id FROM events")}

    async def first_commit() -> dict[TopicPartition, int] | None:
        return await committed_offsets(kafka, group) or None

    config = GroupConfig(kafka, topic, group, commit_interval_seconds=3600)
    await write_mixed_workload(event_store(pool), runs=4)
    await publish_everything(settings, pool)
    async with running_tasks(GroupLoop(config, handle, PostgresDeadLetters(pool)).run):
        await eventually(all_handled)
        committed_first = await eventually(first_commit)  # the first batch's, at once
        await write_mixed_workload(event_store(pool), runs=4)
        ends = await publish_everything(settings, pool)
        await eventually(all_handled)
        assert await committed_offsets(kafka, group) == committed_first  # the interval holds the rest

    assert committed_first != ends
    assert await committed_offsets(kafka, group) == ends  # committed on the way out


async def test_a_projector_stopped_mid_batch_records_no_offsets_for_it_and_its_successor_applies_it(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    kafka, group = settings.kafka_connection(), settings.projector_group
    await write_mixed_workload(event_store(pool), runs=8)
    await publish_everything(settings, pool)
    projector = Projector(projector_config(settings, stop_wait_seconds=0.5), pool)

    async with pool.acquire() as blocker:
        locked = blocker.transaction()
        await locked.start()
        await blocker.execute("LOCK TABLE run_timeline IN ACCESS EXCLUSIVE MODE")
        stop = asyncio.Event()
        running = asyncio.create_task(projector.run(stop))
        await eventually(lambda: _waiting_on_run_timeline(pool))
        stop.set()
        async with asyncio.timeout(15):
            await running  # returns while its batch is still blocked: it gave the batch up
        await locked.rollback()

    assert projector.applied == 0
    assert await pool.fetchval("SELECT count(*) FROM run_timeline") == 0
    assert await stored_offsets(pool, group) == {}
    assert await committed_offsets(kafka, group) == {}

    async with running_tasks(Projector(projector_config(settings), pool).run):
        await eventually(lambda: timeline_matches_store(pool))


async def test_a_restarted_projector_resumes_from_the_offsets_stored_in_postgres(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    kafka, topic, group = (
        settings.kafka_connection(),
        settings.run_events_topic,
        settings.projector_group,
    )
    await write_mixed_workload(event_store(pool), runs=12)
    total = await pool.fetchval("SELECT count(*) FROM events")
    ends = await publish_everything(settings, pool)
    async with running_tasks(Projector(projector_config(settings), pool).run):
        await eventually(lambda: _equal(stored_offsets(pool, group), ends))
        await eventually(lambda: _equal(committed_offsets(kafka, group), ends))

    # Postgres now says the fullest partition is two records behind; Kafka's mirror still says the end.
    partition = max(ends, key=lambda tp: ends[tp])
    await pool.execute(
        "UPDATE projector_offsets SET next_offset = next_offset - 2"
        " WHERE consumer_group = $1 AND partition = $2",
        group,
        partition.partition,
    )
    events, records = await read_topic(kafka, topic, until=lambda seen: len(seen) >= total)
    last_two = [
        (event.run_id, event.version)
        for event, record in zip(events, records, strict=True)
        if record.partition == partition.partition and record.offset >= ends[partition] - 2
    ]
    await pool.executemany("DELETE FROM run_timeline WHERE run_id = $1 AND version = $2", last_two)

    restarted = Projector(projector_config(settings), pool)
    async with running_tasks(restarted.run):
        await eventually(lambda: timeline_matches_store(pool))
        await eventually(lambda: _equal(stored_offsets(pool, group), ends))

    assert restarted.applied == 2


async def _equal(offsets: Awaitable[dict[TopicPartition, int]], expected: dict[TopicPartition, int]) -> bool:
    return await offsets == expected


async def _waiting_on_run_timeline(pool: asyncpg.Pool) -> bool:
    """True once some transaction waits for a lock on run_timeline (the projector's batch, here)."""
    return bool(
        await pool.fetchval(
            """
            SELECT count(*) > 0 FROM pg_locks
            WHERE NOT granted AND relation = 'run_timeline'::regclass
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """
        )
    )
