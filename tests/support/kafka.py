"""Kafka in tests: reading a topic back, producing raw records, and where a topic and a group stand."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition

from events.broker import KafkaConnection, make_admin, make_consumer, make_producer
from events.catalogue import RecordedEvent
from events.envelope import from_kafka_record
from pjs.settings import Settings
from support.roles import eventually, in_process


async def read_topic(
    kafka: KafkaConnection, topic: str, *, until: Callable[[list[RecordedEvent]], bool], seconds: float = 30
) -> tuple[list[RecordedEvent], list[ConsumerRecord[bytes, bytes]]]:
    """Consume `topic` from the start in a fresh group until `until(events)` holds (or time runs out)."""
    consumer = make_consumer(kafka, f"reader-{uuid.uuid4().hex}", topic)
    await consumer.start()
    events: list[RecordedEvent] = []
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(seconds):
            while not until(events):
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
                    events.extend(from_kafka_record(record) for record in batch)
    finally:
        await consumer.stop()
    return events, records


@dataclass(frozen=True)
class RawRecord:
    """A record put on the topic as it is, bypassing the relay (e.g. one no consumer can decode)."""

    partition: int
    value: bytes | None
    headers: list[tuple[str, bytes]]


async def produce(kafka: KafkaConnection, topic: str, records: Sequence[RawRecord]) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                topic, record.value, partition=record.partition, headers=record.headers
            )
    finally:
        await producer.stop()


async def end_offsets(kafka: KafkaConnection, topic: str, partitions: int) -> dict[TopicPartition, int]:
    """The offset after the last record of each of the topic's partitions."""
    consumer = make_consumer(kafka, None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        await consumer.stop()
    return {tp: int(offset) for tp, offset in ends.items()}


async def committed_offsets(kafka: KafkaConnection, group: str) -> dict[TopicPartition, int]:
    """The offsets `group` has committed to Kafka (partitions it never committed are absent)."""
    admin = make_admin(kafka)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}


def ce_headers(ce_type: str | None) -> list[tuple[str, bytes]]:
    """CloudEvents headers as the relay writes them, for a made-up run (without ce_type if None)."""
    headers = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_source": "urn:pjs:event-store",
        "ce_type": ce_type,
        "ce_subject": str(uuid.uuid4()),
        "ce_time": "2026-01-01T09:00:00+00:00",
        "ce_pjsstreamversion": "1",
        "ce_pjsposition": "1",
    }
    return [(name, value.encode()) for name, value in headers.items() if value is not None]


async def publish_everything(
    settings: Settings, pool: asyncpg.Pool, other_records: int = 0
) -> dict[TopicPartition, int]:
    """Run the relay until every stored event is on the topic (beside `other_records` produced directly);
    then the end offset of each partition that holds records (a partition no run hashed to has no offset to
    store or commit)."""
    total = await pool.fetchval("SELECT count(*) FROM events") + other_records
    kafka, topic = settings.kafka_connection(), settings.run_events_topic

    async def published() -> dict[TopicPartition, int] | None:
        ends = await end_offsets(kafka, topic, settings.run_events_partitions)
        return {tp: end for tp, end in ends.items() if end > 0} if sum(ends.values()) >= total else None

    async with in_process(settings, "relay"):
        return await eventually(published)
