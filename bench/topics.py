"""Kafka topic checks: wait until a new topic serves every partition, and count the records it holds."""

from __future__ import annotations

import asyncio
import time

from aiokafka import TopicPartition

from bench.errors import BenchFailure
from events.broker import KafkaConnection, make_consumer

_READY_SECONDS = 15


async def end_offsets(kafka: KafkaConnection, topic: str, partitions: int) -> dict[int, int]:
    """Each partition's end offset, asked of its leader: returns only once every leader answers.

    Metadata can name a leader a moment before that broker serves the partition; ListOffsets is retried
    by aiokafka until the leader answers, so a topic that passed this check accepts sends at once.
    """
    consumer = make_consumer(kafka, None, isolation_level="read_uncommitted", request_timeout_ms=10_000)
    await consumer.start()
    try:
        deadline = time.monotonic() + _READY_SECONDS
        while len(consumer.partitions_for_topic(topic) or ()) < partitions:
            if time.monotonic() > deadline:
                raise BenchFailure(f"topic {topic} does not show {partitions} partitions")
            await consumer._client.force_metadata_update()  # no public way to refresh one topic's metadata
            await asyncio.sleep(0.05)
        found = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        offsets = await consumer.end_offsets(found)
        return {tp.partition: int(offset) for tp, offset in offsets.items()}
    finally:
        await asyncio.wait_for(consumer.stop(), 10)


async def records_on(kafka: KafkaConnection, topic: str, partitions: int) -> int:
    """How many records the topic holds (it was empty when created, nothing is ever deleted from it)."""
    return sum((await end_offsets(kafka, topic, partitions)).values())
