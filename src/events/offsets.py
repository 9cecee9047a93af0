"""Where a consumer group keeps its place: offsets committed to Kafka, or stored in Postgres with the rows."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from events.pg import Connection

log = logging.getLogger(__name__)


class OffsetStore(Protocol):
    """How the consumer loop finds a group's place on assignment and records it after a batch."""

    async def position(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        """Point the consumer at where the group left each newly assigned partition."""

    async def applied(self, consumer: AIOKafkaConsumer, next_offsets: Mapping[TopicPartition, int]) -> None:
        """The handler returned for a batch that ends just before `next_offsets` (partitions still owned)."""


class KafkaOffsets:
    """Kafka's committed offsets: the group starts where it committed and commits after the handler."""

    async def position(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        """Nothing to do: the consumer starts at the committed offsets (or the earliest, if none)."""

    async def applied(self, consumer: AIOKafkaConsumer, next_offsets: Mapping[TopicPartition, int]) -> None:
        await commit_to_kafka(consumer, next_offsets)


class PostgresOffsets:
    """Offsets in `projector_offsets`, saved by the handler in the same transaction as its rows.

    aiokafka's "storing offsets outside Kafka": on assignment the consumer seeks to the stored offsets (to
    the beginning where none is stored), so a crash never applies a batch twice or skips one. The offsets
    are mirrored to Kafka after the transaction only so the group's lag shows in the usual tools.
    """

    def __init__(self, pool: asyncpg.Pool, group: str) -> None:
        self._pool = pool
        self._group = group

    async def position(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        stored = await self.load()
        for partition in assigned:
            if partition in stored:
                consumer.seek(partition, stored[partition])
            else:
                await consumer.seek_to_beginning(partition)

    async def applied(self, consumer: AIOKafkaConsumer, next_offsets: Mapping[TopicPartition, int]) -> None:
        await commit_to_kafka(consumer, next_offsets)

    async def save(self, connection: Connection, next_offsets: Mapping[TopicPartition, int]) -> None:
        """Store where the batch ends; call it inside the transaction that writes the batch's rows."""
        await connection.executemany(
            """
            INSERT INTO projector_offsets (consumer_group, topic, partition, next_offset)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (consumer_group, topic, partition)
            DO UPDATE SET next_offset = greatest(projector_offsets.next_offset, excluded.next_offset)
            """,
            [(self._group, tp.topic, tp.partition, offset) for tp, offset in sorted(next_offsets.items())],
        )

    async def load(self) -> dict[TopicPartition, int]:
        """The stored offset of every partition this group has applied a batch from."""
        rows = await self._pool.fetch(
            "SELECT topic, partition, next_offset FROM projector_offsets WHERE consumer_group = $1",
            self._group,
        )
        return {TopicPartition(row["topic"], row["partition"]): row["next_offset"] for row in rows}


async def commit_to_kafka(consumer: AIOKafkaConsumer, next_offsets: Mapping[TopicPartition, int]) -> None:
    """Commit offsets for work already durable; a failed commit only means those records come again."""
    if not next_offsets:
        return
    try:
        await consumer.commit(dict(next_offsets))
    except (CommitFailedError, IllegalStateError, KafkaError) as error:
        # Whoever reads these records again finds nothing left to do (every consumer is idempotent).
        log.warning("offset commit skipped (%s)", type(error).__name__)
