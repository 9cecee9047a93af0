"""A consumer-group loop for the stream's readers: decode a batch, hand it over, commit only what was done."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from events.broker import make_consumer
from events.catalogue import RecordedEvent, RunEventClass
from events.envelope import from_kafka_record, record_type
from events.errors import InvalidEventPayload, UnknownEventType
from events.retry import RETRY_LATER_ERRORS
from events.waiting import sleep_unless_stopped

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[RecordedEvent]], Awaitable[None]]
Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]




@dataclass(frozen=True)
class GroupConfig:
    bootstrap: str
    topic: str
    group: str
    batch_size: int = 500
    retry_seconds: float = 0.2
    max_retry_seconds: float = 10.0
    revoke_wait_seconds: float = 10.0
    event_types: tuple[RunEventClass, ...] | None = None  # decode and hand over only these; None: all


class GroupLoop:
    """Run with `await loop.run(stop)`. Offsets are committed only after the handler returned for them."""

    def __init__(self, config: GroupConfig, handle: BatchHandler) -> None:
        self._config = config
        self._handle = handle
        self._in_flight = asyncio.Lock()
        self._revoked: set[TopicPartition] = set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._consume(stop)
            except KafkaError as error:  # e.g. no broker yet; uncommitted work is simply read again
                log.warning("consumer lost Kafka (%s); restarting", type(error).__name__)
                await sleep_unless_stopped(stop, self._config.max_retry_seconds)

    async def _consume(self, stop: asyncio.Event) -> None:
        consumer = make_consumer(self._config.bootstrap, self._config.group)
        try:
            await consumer.start()
            consumer.subscribe([self._config.topic], listener=_Revocations(self))
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=self._config.batch_size)
                if batch:
                    async with self._in_flight:
                        await self._process(consumer, batch, stop)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 10)

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Lost partitions are never committed by the batch in flight; wait (bounded) for it to end."""
        self._revoked.update(revoked)
        try:
            async with asyncio.timeout(self._config.revoke_wait_seconds), self._in_flight:
                pass
        except TimeoutError:
            log.warning("rebalance: abandoning the batch in flight on %d partition(s)", len(revoked))

    async def _process(self, consumer: AIOKafkaConsumer, batch: Batch, stop: asyncio.Event) -> None:
        self._revoked.clear()
        owned = consumer.assignment()
        batch = {tp: records for tp, records in batch.items() if tp in owned}
        events = _decode(batch, _names(self._config.event_types))
        delay = self._config.retry_seconds
        while True:
            try:
                await self._handle(events)
                break
            except RETRY_LATER_ERRORS as error:
                if stop.is_set() or set(batch) <= self._revoked:
                    return  # abandoned: the next owner (or our next start) reads it again
                log.warning("batch not finished (%s); retrying in %.1f s", type(error).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._config.max_retry_seconds)
        await self._commit(consumer, batch)

    async def _commit(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        owned = consumer.assignment()
        offsets = {
            tp: records[-1].offset + 1
            for tp, records in batch.items()
            if records and tp in owned and tp not in self._revoked
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, KafkaError) as error:
            # The work is durable; whoever reads these records again finds nothing left to do.
            log.warning("offset commit skipped (%s)", type(error).__name__)


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: GroupLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._loop.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned %d partition(s)", len(assigned))


def _names(event_types: tuple[RunEventClass, ...] | None) -> frozenset[str] | None:
    return None if event_types is None else frozenset(cls.__name__ for cls in event_types)


def _decode(batch: Batch, event_types: frozenset[str] | None) -> list[RecordedEvent]:
    """Decode the records the handler wants; the others are skipped unread (their offsets still commit)."""
    events = []
    for records in batch.values():
        for record in records:
            if event_types is not None and record_type(record) not in event_types:
                continue
            try:
                events.append(from_kafka_record(record))
            except (InvalidEventPayload, UnknownEventType) as error:
                log.error("skipping undecodable record at offset %d: %s", record.offset, error)
    return events
