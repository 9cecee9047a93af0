"""The one consumer-group loop every reader of the run-events topic uses.

It decodes a batch (setting aside records it cannot decode), hands it over, and records the batch's offsets
in its `OffsetStore` only once the handler returned for it. Transient failures are retried with the shared
backoff until the batch is done, stop is set, or its partitions are revoked; a batch given up is never
recorded, so whoever reads it next does it again. A lost broker restarts the consumer after a backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter

from events.broker import make_consumer
from events.catalogue import RecordedEvent, RunEventClass
from events.envelope import from_kafka_record, record_type
from events.errors import InvalidEventPayload, UnknownEventType, UnsupportedSchemaVersion
from events.offsets import KafkaOffsets, OffsetStore
from events.retry import OutageLog, retry_until_stopped
from events.waiting import sleep_unless_stopped

log = logging.getLogger(__name__)

T = TypeVar("T")

UNDECODABLE_RECORDS = Counter(
    "pjs_consumer_undecodable_records", "Records a consumer group could not decode and skipped.", ["group"]
)

Records = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


@dataclass(frozen=True)
class GroupConfig:
    """Which group reads which topic, in batches of how many records, and how long it waits or retries."""

    bootstrap: str
    topic: str
    group: str
    batch_size: int = 500
    retry_seconds: float = 0.2
    max_retry_seconds: float = 10.0
    revoke_wait_seconds: float = 10.0
    stop_wait_seconds: float = 10.0  # how long a stop waits for the batch in flight before abandoning it
    event_types: tuple[RunEventClass, ...] | None = None  # decode and hand over only these; None: all


@dataclass(frozen=True)
class ConsumedBatch:
    """The events decoded from one fetch, and per partition the offset that follows the fetched records."""

    events: Sequence[RecordedEvent]
    next_offsets: Mapping[TopicPartition, int]


@dataclass(frozen=True)
class BadRecord:
    """A record that cannot be decoded. Its contents are kept for a dead-letter store but never logged."""

    topic: str
    partition: int
    offset: int
    error: str  # the exception's class name
    reason: str  # a short fixed phrase: exception messages can quote headers or payload
    record: ConsumerRecord[bytes, bytes] = field(repr=False, compare=False)


EventsHandler = Callable[[Sequence[RecordedEvent]], Awaitable[None]]
BatchHandler = Callable[[ConsumedBatch], Awaitable[None]]


class ConsumerLoop:
    """Run with `await loop.run(stop)`; `handle` gets each batch, `offsets` keeps the group's place."""

    def __init__(self, config: GroupConfig, handle: BatchHandler, offsets: OffsetStore) -> None:
        self._config = config
        self._handle = handle
        self._offsets = offsets
        self._wanted = _names(config.event_types)
        self._in_flight = asyncio.Lock()
        self._revoked: set[TopicPartition] = set()
        self._unpositioned: set[TopicPartition] = set()
        self._kafka_outage = OutageLog(log, f"group {config.group} reaching Kafka")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._consume(stop)
            except KafkaError as error:  # e.g. no broker yet; unrecorded work is simply read again
                self._kafka_outage.failed(error)  # the consumer is rebuilt
                await sleep_unless_stopped(stop, self._config.max_retry_seconds)

    async def _consume(self, stop: asyncio.Event) -> None:
        consumer = make_consumer(self._config.bootstrap, self._config.group)
        self._unpositioned.clear()
        try:
            await consumer.start()
            self._kafka_outage.recovered()
            consumer.subscribe([self._config.topic], listener=_Rebalances(self, consumer))
            while not stop.is_set():
                records = await consumer.getmany(timeout_ms=500, max_records=self._config.batch_size)
                if self._unpositioned:
                    await self._position(consumer, stop)
                if records and not stop.is_set():
                    async with self._in_flight:
                        await self._process(consumer, records, stop)
        finally:
            await _stop_quietly(consumer)

    async def on_assigned(self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]) -> None:
        """Seek the new partitions to the group's place; until then none of their records is handed out."""
        consumer.pause(*assigned)
        try:
            await self._offsets.position(consumer, assigned)
        except Exception as error:  # aiokafka would only log it; the loop tries again
            log.warning("group %s cannot seek (%s)", self._config.group, type(error).__name__)
            self._unpositioned.update(assigned)
        else:
            consumer.resume(*assigned)

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Lost partitions are never recorded by the batch in flight; wait (bounded) for it to end."""
        self._revoked.update(revoked)
        try:
            async with asyncio.timeout(self._config.revoke_wait_seconds), self._in_flight:
                pass
        except TimeoutError:
            log.warning("rebalance: abandoning the batch in flight on %d partition(s)", len(revoked))

    async def set_aside(self, bad: BadRecord) -> None:
        """Log and count a record that cannot be decoded, then move on; the dead-letter store goes here.

        Called before the batch's offsets move past the record, so a store here never loses one.
        """
        UNDECODABLE_RECORDS.labels(group=self._config.group).inc()
        where = f"{bad.topic}[{bad.partition}]@{bad.offset}"
        log.error("group %s skips record %s: %s (%s)", self._config.group, where, bad.error, bad.reason)

    async def _position(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        partitions = self._unpositioned & consumer.assignment()

        async def attempt() -> bool:
            await self._offsets.position(consumer, partitions)
            return True

        if await retry_until_stopped(attempt, stop, log=log, what=f"seeking for {self._config.group}"):
            self._unpositioned -= partitions
            consumer.resume(*(partitions & consumer.assignment()))
        self._unpositioned &= consumer.assignment()

    async def _process(self, consumer: AIOKafkaConsumer, fetched: Records, stop: asyncio.Event) -> None:
        self._revoked.clear()
        owned = consumer.assignment()
        records = {tp: batch for tp, batch in fetched.items() if batch and tp in owned}
        if not records:
            return
        events, bad_records = _decode(records, self._wanted)
        for bad in bad_records:
            await self.set_aside(bad)
        batch = ConsumedBatch(tuple(events), {tp: batch[-1].offset + 1 for tp, batch in records.items()})
        if not await self._finish(batch, stop):
            log.info("group %s abandons a batch of %d event(s)", self._config.group, len(events))
            return
        still_owned = consumer.assignment() - self._revoked
        await self._offsets.applied(
            consumer, {tp: offset for tp, offset in batch.next_offsets.items() if tp in still_owned}
        )

    async def _finish(self, batch: ConsumedBatch, stop: asyncio.Event) -> bool:
        """True once the handler returned for `batch`; False if it was abandoned.

        A batch is abandoned when stop is set (an attempt under way gets `stop_wait_seconds` to finish)
        or when a failed attempt finds every partition of the batch revoked.
        """

        async def attempt() -> bool:
            await self._handle(batch)
            return True

        attempts = retry_until_stopped(
            attempt,
            stop,
            log=log,
            what=f"group {self._config.group}'s batch",
            first_wait=self._config.retry_seconds,
            max_wait=self._config.max_retry_seconds,
            give_up=lambda: set(batch.next_offsets) <= self._revoked,
        )
        return await _unless_stopped_for(attempts, stop, self._config.stop_wait_seconds) is True


class GroupLoop(ConsumerLoop):
    """The loop for a handler of the events alone, with the group's offsets committed to Kafka after it."""

    def __init__(self, config: GroupConfig, handle: EventsHandler) -> None:
        async def handle_events(batch: ConsumedBatch) -> None:
            await handle(batch.events)

        super().__init__(config, handle_events, KafkaOffsets())


class _Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop, consumer: AIOKafkaConsumer) -> None:
        self._loop = loop
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._loop.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned %d partition(s)", len(assigned))
        await self._loop.on_assigned(self._consumer, assigned)


def _names(event_types: tuple[RunEventClass, ...] | None) -> frozenset[str] | None:
    return None if event_types is None else frozenset(cls.__name__ for cls in event_types)


def _decode(records: Records, wanted: frozenset[str] | None) -> tuple[list[RecordedEvent], list[BadRecord]]:
    """The events the handler wants, and the records nobody can decode.

    A record of a type the group does not want is skipped unread; its offset is still recorded.
    """
    events: list[RecordedEvent] = []
    bad: list[BadRecord] = []
    for batch in records.values():
        for record in batch:
            kind = record_type(record)
            if kind is not None and wanted is not None and kind not in wanted:
                continue
            try:
                events.append(from_kafka_record(record))
            except Exception as error:  # no record on the topic may stop a consumer (invariant 9)
                bad.append(_bad_record(record, error))
    return events, bad


_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (UnknownEventType, "event type unknown to this reader"),
    (UnsupportedSchemaVersion, "schema version this reader cannot read"),
    (InvalidEventPayload, "headers or payload are not a valid run event"),
)


def _bad_record(record: ConsumerRecord[bytes, bytes], error: Exception) -> BadRecord:
    reason = next((text for kind, text in _REASONS if isinstance(error, kind)), "decoding failed")
    return BadRecord(record.topic, record.partition, record.offset, type(error).__name__, reason, record)


async def _unless_stopped_for(work: Coroutine[Any, Any, T], stop: asyncio.Event, grace: float) -> T | None:
    """`work`'s result; or None, with `work` cancelled, once `stop` has been set for `grace` seconds."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopping), return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait((task,), timeout=grace)
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))
            if task.cancelled() or task.exception() is not None:
                return None  # abandoned
        return task.result()
    finally:
        stopping.cancel()
        task.cancel()


async def _stop_quietly(consumer: AIOKafkaConsumer) -> None:
    try:
        await asyncio.wait_for(consumer.stop(), 10)
    except Exception as error:  # a consumer that cannot leave the group cleanly is dropped by the broker
        log.warning("consumer did not stop cleanly (%s)", type(error).__name__)
