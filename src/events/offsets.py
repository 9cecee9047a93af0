"""Where a consumer group keeps its place: offsets committed to Kafka, or stored in Postgres with the rows."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from events.pacing import Every
from events.pg import Connection

log = logging.getLogger(__name__)

_STOP_COMMIT_SECONDS = 2.0  # within the role's stop budget; a commit that is not lost takes milliseconds


class OffsetStore(Protocol):
    """How the consumer loop finds a group's place on assignment (it commits to Kafka with `KafkaCommits`)."""

    async def position(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        """Point the consumer at where the group left each newly assigned partition."""


class KafkaOffsets:
    """Kafka's committed offsets: the group starts where it committed (`KafkaCommits` after the handler)."""

    async def position(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        """Nothing to do: the consumer starts at the committed offsets (or the earliest, if none)."""


class KafkaCommits:
    """Commits the offsets of handled batches to Kafka, at most once every `interval_seconds` (0: after each).

    A commit costs the broker about a millisecond of CPU and the consumer a third of one, and takes ~6 ms:
    once per batch, it cost the pipeline 4-9 % of its CPU per run. Between commits the offsets wait here. A
    crash in that time only means those records are read again, which every consumer tolerates (delivery is
    at least once and every consumer is idempotent, invariant 3). Offsets of partitions being revoked are
    committed before they go, and all of them before the consumer stops.
    """

    def __init__(self, interval_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = Every(interval_seconds, clock)
        self._pending: dict[TopicPartition, int] = {}

    def handled(self, next_offsets: Mapping[TopicPartition, int]) -> None:
        """The handler returned for a batch ending just before `next_offsets` (partitions still owned)."""
        self._pending.update(next_offsets)

    async def commit_due(self, consumer: AIOKafkaConsumer) -> None:
        """Commit what waits, if the interval has passed since the last commit."""
        if self._pending and self._every.due():
            await self.commit(consumer)

    async def commit(self, consumer: AIOKafkaConsumer, partitions: set[TopicPartition] | None = None) -> None:
        """Commit what waits now (for `partitions` only, when given); offsets of partitions this member no
        longer owns are dropped: their new owner reads from the last commit."""
        owned = consumer.assignment()
        chosen = {
            tp: offset
            for tp, offset in self._pending.items()
            if tp in owned and (partitions is None or tp in partitions)
        }
        self._pending = {
            tp: offset for tp, offset in self._pending.items() if tp in owned and tp not in chosen
        }
        await commit_to_kafka(consumer, chosen)


class PostgresOffsets:
    """Offsets in `projector_offsets`, saved by the handler in the same transaction as its rows.

    aiokafka's "storing offsets outside Kafka": on assignment the consumer seeks to the stored offsets (to
    the beginning where none is stored), so a crash never applies a batch twice or skips one. The offsets
    are mirrored to Kafka (`KafkaCommits`) only so the group's lag shows in the usual tools.
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

    async def save(self, connection: Connection, next_offsets: Mapping[TopicPartition, int]) -> None:
        """Store where the batch ends; call it inside the transaction that writes the batch's rows."""
        if not next_offsets:
            return
        ordered = sorted(next_offsets.items())  # in one order everywhere: concurrent savers never deadlock
        await connection.execute(
            """
            INSERT INTO projector_offsets (consumer_group, topic, partition, next_offset)
            SELECT $1, topic, partition, next_offset
            FROM unnest($2::text[], $3::int[], $4::bigint[]) WITH ORDINALITY
                 AS t(topic, partition, next_offset, n)
            ORDER BY n
            ON CONFLICT (consumer_group, topic, partition)
            DO UPDATE SET next_offset = greatest(projector_offsets.next_offset, excluded.next_offset)
            """,
            self._group,
            [tp.topic for tp, _ in ordered],
            [tp.partition for tp, _ in ordered],
            [offset for _, offset in ordered],
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


async def stop_consumer(consumer: AIOKafkaConsumer, commits: KafkaCommits) -> None:
    """Commit what waits, then stop the consumer (leaving its group); never raises, unless the calling task
    itself is cancelled."""
    try:
        async with asyncio.timeout(_STOP_COMMIT_SECONDS):  # takes ms; longer means Kafka is lost
            await commits.commit(consumer)
    except TimeoutError:
        log.warning("offsets not committed before stopping: those records will be read again")
    finally:
        try:
            await asyncio.wait_for(consumer.stop(), 10)
        except Exception as error:  # a consumer that cannot leave the group cleanly is dropped by the broker
            log.warning("consumer did not stop cleanly (%s)", type(error).__name__)
        except asyncio.CancelledError:
            if _cancelled_itself():
                raise
            # aiokafka's fetcher, closing, cancels its fetches still waiting for a lost broker and re-raises
            # their cancellation (aio-libs/aiokafka#647): not ours, so the role would end "cancelled".
            log.warning("consumer did not stop cleanly (its fetches to a lost broker were cancelled)")


def _cancelled_itself() -> bool:
    """Whether someone asked to cancel the running task (a role over its stop budget)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
