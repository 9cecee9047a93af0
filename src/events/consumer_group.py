"""The one consumer-group loop every reader of the run-events topic uses.

It decodes a batch, hands it over, and records the batch's offsets for commit (`KafkaCommits`) only once the
handler returned for it. Transient failures are retried with the shared backoff until the batch is done,
stop is set, or its partitions are revoked; a batch given up is never recorded, so whoever reads it next does
it again. A batch that keeps failing otherwise is handled one event at a time, and the records that still
fail, like those that cannot be decoded, go to the dead-letter store before the offsets move past them.
A lost broker restarts the consumer after a backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from events import tracing
from events.bad_records import HANDLING_FAILED, BadRecord, Decoded, Records, bad_record, decode, names
from events.broker import make_consumer
from events.catalogue import RecordedEvent
from events.consumer_metrics import (
    DEAD_LETTERS,
    UNDECODABLE_RECORDS,
    LagObserver,
    batch_fetched,
    batch_handled,
)
from events.dead_letters import DeadLetterStore, Filed
from events.decoded_records import RECENTLY_DECODED
from events.group_config import GroupConfig
from events.group_progress import group_progress
from events.offsets import KafkaCommits, KafkaOffsets, OffsetStore, stop_consumer
from events.retry import RETRY_LATER_ERRORS, OutageLog, RetryLater, retry_until_stopped
from events.waiting import ABANDONED, sleep_unless_stopped, unless_stopped_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumedBatch:
    """The events decoded from one fetch, and per partition the offset that follows the fetched records."""

    events: Sequence[RecordedEvent]
    next_offsets: Mapping[TopicPartition, int]


EventsHandler = Callable[[Sequence[RecordedEvent]], Awaitable[None]]
BatchHandler = Callable[[ConsumedBatch], Awaitable[None]]


class ConsumerLoop:
    """Run with `await loop.run(stop)`; `handle` gets each batch, `offsets` keeps the group's place and
    `dead_letters` the records set aside."""

    def __init__(
        self, config: GroupConfig, handle: BatchHandler, offsets: OffsetStore, dead_letters: DeadLetterStore
    ) -> None:
        self._config = config
        self._handle = handle
        self._offsets = offsets
        self._dead_letters = dead_letters
        self._wanted = names(config.event_types)
        self._in_flight = asyncio.Lock()
        self._revoked: set[TopicPartition] = set()
        self._unpositioned: set[TopicPartition] = set()
        self._kafka_outage = OutageLog(log, f"group {config.group} reaching Kafka")
        self._lag = LagObserver(config.group)
        self._progress = group_progress(config.group)  # what the process's heartbeat reports of it
        self._commits = KafkaCommits(config.commit_interval_seconds)
        for counter in (UNDECODABLE_RECORDS, DEAD_LETTERS):
            counter.labels(group=config.group)  # exported at 0, so rates and alerts see the group at once
        RECENTLY_DECODED.add_reader()  # with a second group in the process, a record is decoded once

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._consume(stop)
            except KafkaError as error:  # e.g. no broker yet; unrecorded work is simply read again
                self._kafka_outage.failed(error)  # the consumer is rebuilt
                await sleep_unless_stopped(stop, self._config.max_retry_seconds)

    async def _consume(self, stop: asyncio.Event) -> None:
        consumer = make_consumer(
            self._config.kafka,
            self._config.group,
            fetch_min_bytes=self._config.fetch_min_bytes,
            fetch_max_wait_ms=self._config.fetch_max_wait_ms,
            max_poll_records=self._config.batch_size,
        )
        self._unpositioned.clear()
        try:
            await consumer.start()
            self._kafka_outage.recovered()
            consumer.subscribe([self._config.topic], listener=_Rebalances(self, consumer))
            while not stop.is_set():
                records = await consumer.getmany(timeout_ms=500, max_records=self._config.batch_size)
                self._progress.fetched(sum(len(batch) for batch in records.values()))
                if self._unpositioned:
                    await self._position(consumer, stop)
                async with self._in_flight:  # a revoke waits for the batch and for the commit
                    if records and not stop.is_set():
                        await self._process(consumer, records, stop)
                    await self._commits.commit_due(consumer)
                await self._lag.observe(consumer)
        finally:
            await stop_consumer(consumer, self._commits)

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

    async def on_revoked(self, consumer: AIOKafkaConsumer, revoked: set[TopicPartition]) -> None:
        """Lost partitions are never recorded by the batch in flight; wait (bounded) for it to end, then
        commit what earlier batches handled on them before they go."""
        self._revoked.update(revoked)
        try:
            async with asyncio.timeout(self._config.revoke_wait_seconds), self._in_flight:
                pass
        except TimeoutError:
            log.warning("rebalance: abandoning the batch in flight on %d partition(s)", len(revoked))
        await self._commits.commit(consumer, revoked)

    async def set_aside(self, bad: BadRecord, stop: asyncio.Event) -> bool:
        """Store `bad` in the dead-letter store, then log (where and why, never what) and count it.

        Called before the batch's offsets move past the record, so none is lost. False if the store could
        not be reached before stop was set: the batch is then abandoned, unrecorded.
        """
        group = self._config.group

        async def store() -> Filed | None:
            return await self._dead_letters.add(group, bad.record, bad.error, bad.reason)

        what = f"group {group}'s dead letter"
        filed = await retry_until_stopped(
            store, stop, log=log, what=what, max_wait=self._config.max_retry_seconds
        )
        if filed is ABANDONED:
            return False
        if bad.reason != HANDLING_FAILED:
            UNDECODABLE_RECORDS.labels(group=group).inc()
        if filed is not None and filed.status == "discarded":  # no operator is to look at it again
            log.warning(
                "group %s skips record %s: %s (%s); an operator discarded it (dead letter %d)",
                group,
                bad.where,
                bad.error,
                bad.reason,
                filed.dead_letter_id,
            )
            return True
        DEAD_LETTERS.labels(group=group).inc()
        log.error("group %s sets aside record %s: %s (%s)", group, bad.where, bad.error, bad.reason)
        return True

    async def _position(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        partitions = self._unpositioned & consumer.assignment()

        async def attempt() -> None:
            await self._offsets.position(consumer, partitions)

        seeking = f"seeking for {self._config.group}"
        if await retry_until_stopped(attempt, stop, log=log, what=seeking) is not ABANDONED:
            self._unpositioned -= partitions
            consumer.resume(*(partitions & consumer.assignment()))
        self._unpositioned &= consumer.assignment()

    async def _process(self, consumer: AIOKafkaConsumer, fetched: Records, stop: asyncio.Event) -> None:
        self._revoked.clear()
        owned = consumer.assignment()
        records = {tp: batch for tp, batch in fetched.items() if batch and tp in owned}
        if not records:
            return
        batch_fetched(self._config.group, records)
        decoded, bad_records = decode(records, self._wanted)
        for bad in bad_records:
            if not await self.set_aside(bad, stop):
                return
        events = tuple(one.event for one in decoded)
        batch = ConsumedBatch(events, {tp: batch[-1].offset + 1 for tp, batch in records.items()})
        if not await self._finish(batch, decoded, stop):
            log.info("group %s abandons a batch of %d event(s)", self._config.group, len(events))
            return
        still_owned = consumer.assignment() - self._revoked
        self._commits.handled({tp: offset for tp, offset in batch.next_offsets.items() if tp in still_owned})
        batch_handled(self._config.group, records)
        self._progress.handled()

    async def _finish(self, batch: ConsumedBatch, decoded: Sequence[Decoded], stop: asyncio.Event) -> bool:
        """True once the handler returned for `batch`, or for each of its events not set aside; False if
        the batch was abandoned.

        A batch that keeps failing with an error that is not transient is handled one event at a time to
        find the poison ones; those are set aside, the others applied. Then the handler gets an empty batch
        carrying the whole batch's offsets, so a group storing offsets with its rows moves past them too.
        """
        outcome = await self._attempt(batch, stop)
        if not isinstance(outcome, Exception):
            return outcome
        log.warning(
            "group %s: a batch keeps failing (%s); handling its %d event(s) one at a time",
            self._config.group,
            type(outcome).__name__,
            len(decoded),
        )
        for one in decoded:
            outcome = await self._attempt(ConsumedBatch((one.event,), one.next_offset), stop)
            if outcome is False:
                return False
            if isinstance(outcome, Exception):
                poison = bad_record(one.record, outcome, HANDLING_FAILED)
                if not await self.set_aside(poison, stop):
                    return False
        outcome = await self._attempt(ConsumedBatch((), batch.next_offsets), stop)
        if isinstance(outcome, Exception):
            raise outcome  # a handler failing on no events at all is a bug, not a poison record
        return outcome

    async def _attempt(self, batch: ConsumedBatch, stop: asyncio.Event) -> bool | Exception:
        """True once the handler returned for `batch`; False if it was abandoned; the error, once it failed
        `poison_retries + 1` times with an error that is not transient (those are retried without end).

        A batch is abandoned when stop is set (an attempt under way gets `stop_wait_seconds` to finish)
        or when a failed attempt finds every partition of the batch revoked.
        """
        failures = 0

        async def attempt() -> bool | Exception:
            nonlocal failures
            try:
                with tracing.consuming(self._config.group, batch.events):
                    await self._handle(batch)
            except RETRY_LATER_ERRORS:
                raise
            except Exception as error:  # maybe a poison record; retried a bounded number of times
                failures += 1
                log.warning(
                    "group %s: %d event(s) failed (%s), attempt %d",
                    self._config.group,
                    len(batch.events),
                    type(error).__name__,
                    failures,
                )
                if failures > self._config.poison_retries:
                    return error
                raise RetryLater from error
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
        outcome = await unless_stopped_for(attempts, stop, self._config.stop_wait_seconds)
        return False if outcome is ABANDONED else outcome


class GroupLoop(ConsumerLoop):
    """The loop for a handler of the events alone, with the group's offsets committed to Kafka after it."""

    def __init__(self, config: GroupConfig, handle: EventsHandler, dead_letters: DeadLetterStore) -> None:
        async def handle_events(batch: ConsumedBatch) -> None:
            await handle(batch.events)

        super().__init__(config, handle_events, KafkaOffsets(), dead_letters)


class _Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop, consumer: AIOKafkaConsumer) -> None:
        self._loop = loop
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._loop.on_revoked(self._consumer, revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned %d partition(s)", len(assigned))
        await self._loop.on_assigned(self._consumer, assigned)
