"""Hostile records on the real stack: every role sets them aside in dead_letters and keeps going."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import httpx
from aiokafka import ConsumerRecord, TopicPartition

from events.bad_records import HANDLING_FAILED
from events.broker import KafkaConnection, make_consumer
from events.catalogue import WAKE_UP_TYPES, RecordedEvent
from events.consumer_group import GroupLoop
from events.errors import StoreUnavailable
from events.group_config import GroupConfig
from pjs.settings import Settings
from pjs.wiring import analytics_files, dead_letters, event_store
from support.cli import dead_letters_cli
from support.kafka import (
    RawRecord,
    ce_headers,
    committed_offsets,
    end_offsets,
    produce,
    publish_everything,
    read_topic,
)
from support.roles import eventually, in_process, running_tasks
from support.workload import write_mixed_workload

GARBLED_TYPE = b"\xff\xfepjs.run.RunStarted.v1"
GARBAGE_PAYLOAD = b'\x00{"node_id": '


def with_subscriber_groups(settings: Settings, analytics_dir: Path) -> Settings:
    prefix = settings.projector_group
    return settings.model_copy(
        update={
            "audit_group": f"{prefix}-audit",
            "analytics_group": f"{prefix}-analytics",
            "analytics_dir": analytics_dir,
            "analytics_retention_days": 36_500,  # the workload is recorded on 2026-01-01
        }
    )


def overflowing_copy(
    records: Sequence[RecordedEvent], raw: Sequence[ConsumerRecord[bytes, bytes]]
) -> RawRecord:
    """A decodable record no Postgres integer column can hold: a real event whose stream version is 10^11."""
    wakes = {cls.__name__ for cls in WAKE_UP_TYPES}
    record = next(r for e, r in zip(records, raw, strict=True) if e.event.type not in wakes)
    headers = [
        (name, b"99999999999" if name == "ce_pjsstreamversion" else value)
        for name, value in record.headers
        if name != "ce_id"
    ]
    return RawRecord(2, record.value, [("ce_id", str(uuid.uuid4()).encode()), *headers])


def analytics_lines(directory: Path) -> str:
    return "".join(path.read_text() for path in directory.glob("*.ndjson"))


async def dead_letter_rows(pool: asyncpg.Pool) -> set[tuple[str, int, int, str, str]]:
    rows = await pool.fetch(
        "SELECT consumer_group, partition, record_offset, error_type, reason FROM dead_letters"
    )
    return {tuple(row.values()) for row in rows}  # type: ignore[misc]


async def test_undecodable_and_poison_records_are_dead_lettered_while_every_role_handles_the_rest(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    settings = with_subscriber_groups(settings, tmp_path)
    kafka, topic = settings.kafka_connection(), settings.run_events_topic
    await write_mixed_workload(event_store(pool), runs=6)
    await publish_everything(settings, pool)  # good records before the bad ones
    first = await pool.fetchval("SELECT count(*) FROM events")
    published, raw = await read_topic(kafka, topic, until=lambda seen: len(seen) >= first)
    before = await end_offsets(kafka, topic, settings.run_events_partitions)
    bad = [
        RawRecord(0, b'{"node_id": "welcome"}', [("ce_type", GARBLED_TYPE), *ce_headers(None)]),
        RawRecord(1, GARBAGE_PAYLOAD, ce_headers("pjs.run.RunCancelled.v1")),
        overflowing_copy(published, raw),
    ]
    await produce(kafka, topic, bad)
    await write_mixed_workload(event_store(pool), runs=6)
    ends = await publish_everything(settings, pool, other_records=len(bad))  # and good records after
    stored = await pool.fetch("SELECT event_id, run_id, version, type FROM events ORDER BY run_id, version")
    groups = [settings.projector_group, settings.audit_group, settings.analytics_group, settings.engine_group]

    async def everyone_moved_past_everything() -> bool:
        return all([await committed_offsets(kafka, group) == ends for group in groups])

    async with in_process(settings, "projector", "audit", "analytics", "engine"):
        await eventually(everyone_moved_past_everything, seconds=60)

    timeline = await pool.fetch("SELECT run_id, version, type FROM run_timeline ORDER BY run_id, version")
    assert [tuple(row.values()) for row in timeline] == [tuple(row.values())[1:] for row in stored]
    audited = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE source_id = ANY($1::text[])",
        [f"event:{row['event_id']}" for row in stored],
    )
    assert audited == len(stored)
    lines = analytics_lines(tmp_path)
    analytics = analytics_files(settings)
    assert all(analytics.pseudonym("event", row["event_id"]) in lines for row in stored)

    where = [before[TopicPartition(topic, partition)] for partition in (0, 1, 2)]
    undecodable = "headers or payload are not a valid run event"
    projector, audit, analytics = groups[:3]
    assert await dead_letter_rows(pool) == {
        *((group, 0, where[0], "InvalidEventPayload", undecodable) for group in groups),
        *(
            (group, 1, where[1], "InvalidEventPayload", undecodable)
            for group in (projector, audit, analytics)
        ),
        (projector, 2, where[2], "DataError", HANDLING_FAILED),
    }
    kept = await dead_letters(pool).listing()
    garbled = next(letter for letter in kept if letter.partition == 0)
    assert (garbled.value, garbled.headers[0]) == (bad[0].value, ("ce_type", GARBLED_TYPE))
    assert {letter.status for letter in kept} == {"waiting"}


async def test_a_batch_failing_on_one_run_is_handled_event_by_event_and_only_that_run_is_dead_lettered(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    kafka, topic = settings.kafka_connection(), settings.run_events_topic
    group = f"{settings.projector_group}-poison"
    await write_mixed_workload(event_store(pool), runs=6)
    ends = await publish_everything(settings, pool)
    total = await pool.fetchval("SELECT count(*) FROM events")
    events, records = await read_topic(kafka, topic, until=lambda seen: len(seen) >= total)
    poisoned_run = events[0].run_id
    handled: set[uuid.UUID] = set()
    outages = [StoreUnavailable("down"), StoreUnavailable("down")]  # transient: retried, never dead-lettered

    async def handle(batch: Sequence[RecordedEvent]) -> None:
        if outages:
            raise outages.pop()
        if any(event.run_id == poisoned_run for event in batch):
            raise ValueError("this handler cannot take that run")
        handled.update(event.event_id for event in batch)

    config = GroupConfig(kafka, topic, group, retry_seconds=0.01, max_retry_seconds=0.05)
    async with running_tasks(GroupLoop(config, handle, dead_letters(pool)).run):
        await eventually(lambda: _equal_committed(kafka, group, ends))

    poisoned = [(e, r) for e, r in zip(events, records, strict=True) if e.run_id == poisoned_run]
    assert handled == {event.event_id for event in events} - {event.event_id for event, _ in poisoned}
    assert await dead_letter_rows(pool) == {
        (group, record.partition, record.offset, "ValueError", HANDLING_FAILED) for _, record in poisoned
    }


async def _equal_committed(kafka: KafkaConnection, group: str, expected: dict[TopicPartition, int]) -> bool:
    return await committed_offsets(kafka, group) == expected


async def raw_records_after(kafka: KafkaConnection, topic: str, partition: int, offset: int) -> RawRecord:
    consumer = make_consumer(kafka, f"reader-{uuid.uuid4().hex}")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, partition)])
        consumer.seek(TopicPartition(topic, partition), offset)
        async with asyncio.timeout(20):
            while True:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    return RawRecord(batch[0].partition, batch[0].value, list(batch[0].headers))
    finally:
        await consumer.stop()


async def test_operators_list_show_and_retry_dead_letters_and_probes_report_those_waiting(
    settings: Settings, pool: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    kafka, topic = settings.kafka_connection(), settings.run_events_topic
    headers = [("ce_type", GARBLED_TYPE), ("ce_subject", b"not-a-run")]
    value = b'{"node_id": "welcome", "note": "Jane Roe"}'
    record = ConsumerRecord(topic, 0, 7, 0, 0, b"run-key", value, None, 7, len(value), headers)
    await dead_letters(pool).add("pjs-test-audit", record, "InvalidEventPayload", "payload is not valid")
    letter_id = (await dead_letters(pool).listing())[0].dead_letter_id

    metrics = (await api.get("/metrics")).text
    assert 'pjs_dead_letters_waiting{group="pjs-test-audit"} 1.0' in metrics
    ready = await api.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["details"] == [
        "1 dead letter(s) waiting (pjs-test-audit: 1); see `pjs dead-letters list`"
    ]

    listed = await asyncio.to_thread(dead_letters_cli, settings, "list")
    assert listed.exit_code == 0, listed.output
    for column in (str(letter_id), "pjs-test-audit", f"{topic}[0]@7", "InvalidEventPayload", "waiting"):
        assert column in listed.output
    shown = await asyncio.to_thread(dead_letters_cli, settings, "show", str(letter_id))
    assert shown.exit_code == 0, shown.output
    assert "base64:" + base64.b64encode(GARBLED_TYPE).decode() in shown.output
    assert '"node_id": "welcome"' in shown.output and "ce_subject: not-a-run" in shown.output

    end = await end_offsets(kafka, topic, settings.run_events_partitions)
    retried = await asyncio.to_thread(dead_letters_cli, settings, "retry", str(letter_id))
    assert retried.exit_code == 0, retried.output

    again = await eventually(lambda: _reproduced(kafka, topic, end, settings.run_events_partitions))
    assert (again.value, again.headers) == (value, [*headers, ("pjs_retry_of", str(letter_id).encode())])
    assert (await dead_letters(pool).get(letter_id)).status == "retried"  # type: ignore[union-attr]
    assert "pjs_dead_letters_waiting{" not in (await api.get("/metrics")).text
    assert "details" not in (await api.get("/ready")).json()
    assert (await asyncio.to_thread(dead_letters_cli, settings, "show", "999999")).exit_code == 1


async def _reproduced(
    kafka: KafkaConnection, topic: str, before: dict[TopicPartition, int], partitions: int
) -> RawRecord | None:
    now = await end_offsets(kafka, topic, partitions)
    grown = [tp for tp in now if now[tp] > before[tp]]
    return await raw_records_after(kafka, topic, grown[0].partition, before[grown[0]]) if grown else None
