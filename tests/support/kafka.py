"""Reading a topic back in tests: every record from the beginning, decoded, within a time bound."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from aiokafka import ConsumerRecord

from events.broker import make_consumer
from events.catalogue import RecordedEvent
from events.envelope import from_kafka_record


async def read_topic(
    bootstrap: str, topic: str, *, until: Callable[[list[RecordedEvent]], bool], seconds: float = 30
) -> tuple[list[RecordedEvent], list[ConsumerRecord[bytes, bytes]]]:
    """Consume `topic` from the start in a fresh group until `until(events)` holds (or time runs out)."""
    consumer = make_consumer(bootstrap, f"reader-{uuid.uuid4().hex}", topic)
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
