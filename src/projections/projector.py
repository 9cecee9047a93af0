"""The projector role: a Kafka consumer group that applies run events to the asynchronous read models.

Offsets live in Postgres (projector_offsets), written in the same transaction as the rows they cover, and
the consumer seeks to them on every assignment: a crash never applies a batch twice or skips one. The
read models also dedupe by (run id, version), which covers the relay's re-publications.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from events.broker import make_consumer
from events.catalogue import RecordedEvent
from events.envelope import from_kafka_record
from events.errors import CONNECTION_ERRORS, StoreUnavailable
from events.pg import Connection
from events.projection import Projection
from projections.read_models import READ_MODELS

log = logging.getLogger(__name__)

RETRYABLE: tuple[type[BaseException], ...] = (StoreUnavailable, *CONNECTION_ERRORS)

Batch = Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]


@dataclass(frozen=True)
class ProjectorConfig:
    database_url: str
    bootstrap: str
    topic: str
    group: str
    batch_size: int = 1000


class SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, start each partition where the last committed projection transaction left it."""

    def __init__(self, consumer: AIOKafkaConsumer, pool: asyncpg.Pool, group: str) -> None:
        self._consumer = consumer
        self._pool = pool
        self._group = group

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to flush: a batch is either committed with its offsets or not at all."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        stored = await load_offsets(self._pool, self._group, assigned)
        for partition in assigned:
            if partition in stored:
                self._consumer.seek(partition, stored[partition])
            else:
                await self._consumer.seek_to_beginning(partition)


class Projector:
    def __init__(
        self, config: ProjectorConfig, projections: Sequence[Projection] = READ_MODELS
    ) -> None:
        self._config = config
        self._projections = tuple(projections)
        self.applied = 0

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncpg.create_pool(self._config.database_url, min_size=1, max_size=2) as pool:
            consumer = make_consumer(self._config.bootstrap, self._config.group)
            consumer.subscribe(
                [self._config.topic], listener=SeekToStoredOffsets(consumer, pool, self._config.group)
            )
            await consumer.start()
            try:
                while not stop.is_set():
                    batch = await consumer.getmany(timeout_ms=500, max_records=self._config.batch_size)
                    if batch:
                        await self._apply_until_done(pool, batch, stop)
                        await _commit_quietly(consumer, batch)
            finally:
                await consumer.stop()

    async def _apply_until_done(self, pool: asyncpg.Pool, batch: Batch, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.apply(pool, batch)
                return
            except RETRYABLE as error:
                log.warning("projector cannot write (%s); retrying the batch", type(error).__name__)
                await asyncio.sleep(1)

    async def apply(self, pool: asyncpg.Pool, batch: Batch) -> None:
        """Apply one consumed batch to every projection and record its offsets, in one transaction."""
        events: list[RecordedEvent] = [from_kafka_record(r) for records in batch.values() for r in records]
        async with pool.acquire() as connection, connection.transaction():
            for projection in self._projections:
                await projection.apply(connection, events, {table: table for table in projection.tables})
            await save_offsets(
                connection,
                self._config.group,
                {tp: records[-1].offset + 1 for tp, records in batch.items() if records},
            )
        self.applied += len(events)


async def load_offsets(
    pool: asyncpg.Pool, group: str, partitions: set[TopicPartition]
) -> dict[TopicPartition, int]:
    rows = await pool.fetch(
        "SELECT topic, partition, next_offset FROM projector_offsets WHERE consumer_group = $1", group
    )
    stored = {TopicPartition(row["topic"], row["partition"]): row["next_offset"] for row in rows}
    return {tp: offset for tp, offset in stored.items() if tp in partitions}


async def save_offsets(
    connection: Connection, group: str, offsets: Mapping[TopicPartition, int]
) -> None:
    await connection.executemany(
        """
        INSERT INTO projector_offsets (consumer_group, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
        ON CONFLICT (consumer_group, topic, partition)
        DO UPDATE SET next_offset = greatest(projector_offsets.next_offset, excluded.next_offset)
        """,
        [(group, tp.topic, tp.partition, offset) for tp, offset in sorted(offsets.items())],
    )


async def _commit_quietly(consumer: AIOKafkaConsumer, batch: Batch) -> None:
    """Mirror the offsets to Kafka too, so lag shows in the usual tools; Postgres stays the truth."""
    with contextlib.suppress(Exception):
        await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items() if records})
