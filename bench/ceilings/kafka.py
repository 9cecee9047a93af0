"""The Kafka ceilings: a plain idempotent acks=all producer, and a plain group consumer reading it back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import ConsumerRebalanceListener

from bench import workload
from bench.config import Sizes
from bench.errors import BenchFailure
from bench.measure import rate
from events.broker import KafkaConnection, make_consumer, make_producer
from events.envelope import KafkaRecord, to_kafka_record

_IN_FLIGHT = 5_000  # sends awaited in windows: bounded memory, the producer still batches freely


@dataclass(frozen=True)
class KafkaCeiling:
    send_msgs_per_s: float
    consume_msgs_per_s: float | None  # None when only the producer side was measured
    group_join_seconds: float | None
    record_bytes: float


def event_records(count: int) -> list[KafkaRecord]:
    """`count` records shaped like the relay's (key = run id, CloudEvents headers), built before timing."""
    runs = -(-count // 5)
    events = [event for number in range(runs) for event in workload.opening_batch("kafka-raw", number)]
    return [to_kafka_record(event) for event in workload.recorded(events[:count], first_position=1)]


def _record_bytes(records: Sequence[KafkaRecord]) -> float:
    total = sum(len(r.key) + len(r.value) + sum(len(k) + len(v) for k, v in r.headers) for r in records)
    return round(total / max(len(records), 1), 1)


async def send(
    kafka: KafkaConnection, topic: str, records: Sequence[KafkaRecord], limit_seconds: float
) -> float:
    """Messages/s for one producer with the relay's settings (idempotent, acks=all, linger 5 ms)."""
    producer = make_producer(kafka)
    await producer.start()
    try:
        await producer.partitions_for(topic)  # metadata fetched before timing, as a running relay has it
        started = time.perf_counter()
        async with asyncio.timeout(limit_seconds):
            for window in range(0, len(records), _IN_FLIGHT):
                deliveries = [
                    await producer.send(topic, r.value, key=r.key, headers=r.headers)
                    for r in records[window : window + _IN_FLIGHT]
                ]
                await asyncio.gather(*deliveries)
        return rate(len(records), time.perf_counter() - started)
    finally:
        await asyncio.wait_for(producer.stop(), 10)


class _AssignedAt(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no type hints
    """Notes when the group handed this consumer its partitions: the join is over, fetching starts."""

    def __init__(self) -> None:
        self.at: float | None = None

    async def on_partitions_revoked(self, revoked: object) -> None:
        return None

    async def on_partitions_assigned(self, assigned: object) -> None:
        self.at = self.at or time.perf_counter()


async def consume(
    kafka: KafkaConnection, topic: str, group: str, expected: int, limit_seconds: float
) -> tuple[float, float]:
    """(messages/s from partition assignment to the last record, seconds the group join took)."""
    consumer = make_consumer(kafka, group, isolation_level="read_uncommitted")
    assigned = _AssignedAt()
    consumer.subscribe([topic], listener=assigned)
    started = time.perf_counter()
    await consumer.start()
    seen = 0
    try:
        async with asyncio.timeout(limit_seconds):
            while seen < expected:
                batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
                seen += sum(len(records) for records in batches.values())
        finished = time.perf_counter()
    except TimeoutError as error:
        raise BenchFailure(f"consumed {seen} of {expected} records in {limit_seconds:.0f}s") from error
    finally:
        await asyncio.wait_for(consumer.stop(), 10)
    # Offsets are never committed, so the group holds nothing once the consumer leaves.
    joined_at = assigned.at or started
    return rate(seen, finished - joined_at), round(joined_at - started, 3)


async def measure(
    kafka: KafkaConnection, topic: str, group: str | None, sizes: Sizes, count: int
) -> KafkaCeiling:
    """Send `count` event-shaped records to an empty topic, then (with a group) consume them back."""
    records = event_records(count)
    sent = await send(kafka, topic, records, sizes.phase_seconds)
    if group is None:
        return KafkaCeiling(sent, None, None, _record_bytes(records))
    consumed, joined = await consume(kafka, topic, group, len(records), sizes.phase_seconds)
    return KafkaCeiling(sent, consumed, joined, _record_bytes(records))
