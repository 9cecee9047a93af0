"""Publishing one feed page for the relay: every record acknowledged, or parked when it is itself at fault.

A record is at fault when sending it again could never succeed: too large for the producer or the broker,
or a stored event that cannot be made into a record. Anything else (a broker that is down or slow, a
fenced or out-of-sequence producer) fails the whole page, which the relay sends again from its checkpoint.

Per-partition order: a record refused by `send` itself never entered the producer's stream, so the page
flows on around it. A record the broker refuses fails its whole batch, and the idempotent producer counted
its sequence numbers, so later batches of that partition fail too. The page is then sent again one record
at a time, each acknowledged before the next is sent, with a fresh producer after each refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTimestampError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from events import tracing
from events.envelope import KafkaRecord, StoredEvent, stored_to_kafka_record
from events.errors import EventStoreError
from events.parked import ParkedEvent

RECORD_FAULTS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTimestampError,
    EventStoreError,  # the stored event cannot be made into a record (unknown type, failed upcast)
)
"""Errors a record causes by itself: it is parked, never sent again."""


PUBLISH_SPAN = "pjs.relay.publish"


class PageNotPublished(Exception):
    """Some record of the page was not acknowledged for a reason other than its own fault."""

    def __init__(self, errors: Sequence[BaseException]) -> None:
        super().__init__(", ".join(sorted({type(error).__name__ for error in errors})))
        self.a_record_was_refused = any(isinstance(error, RECORD_FAULTS) for error in errors)


class PagePublisher:
    """Owns the relay's producer: started on demand, closed and rebuilt after a failure."""

    def __init__(self, producer_factory: Callable[[], AIOKafkaProducer], topic: str) -> None:
        self._producer_factory = producer_factory
        self._topic = topic
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Start a producer unless one runs; raises KafkaError if Kafka cannot be reached."""
        await self._started()

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await _stop_quietly(producer)

    async def publish(self, events: Sequence[StoredEvent], *, one_by_one: bool) -> list[ParkedEvent]:
        """Publish the page in order (acks=all); returns the events parked for their own fault.

        Raises `PageNotPublished` (or a KafkaError) when the page must be sent again.
        """
        if one_by_one:
            return await self._publish_one_by_one(events)
        producer = await self._started()
        parked: list[ParkedEvent] = []
        deliveries = []
        for event in events:
            try:
                record = self._record(event)
                deliveries.append(
                    await producer.send(self._topic, record.value, key=record.key, headers=record.headers)
                )
            except RECORD_FAULTS as fault:
                parked.append(parked_event(event, fault))
        results = await asyncio.gather(*deliveries, return_exceptions=True)
        errors = [result for result in results if isinstance(result, BaseException)]
        if errors:
            raise PageNotPublished(errors)
        return parked

    async def _publish_one_by_one(self, events: Sequence[StoredEvent]) -> list[ParkedEvent]:
        parked: list[ParkedEvent] = []
        for event in events:
            producer = await self._started()
            try:
                record = self._record(event)
                delivery = await producer.send(
                    self._topic, record.value, key=record.key, headers=record.headers
                )
            except RECORD_FAULTS as fault:
                parked.append(parked_event(event, fault))
                continue
            try:
                await delivery
            except RECORD_FAULTS as fault:
                parked.append(parked_event(event, fault))
                await self.close()  # its sequence numbers counted the refused record
        return parked

    def _record(self, event: StoredEvent) -> KafkaRecord:
        """The event's record. A traced event is published in a span of its trace, and its record carries
        that span's context (the CloudEvents tracing extension), so consumers' spans follow the publish."""
        if event.traceparent is None:
            return stored_to_kafka_record(event)
        attributes: dict[str, AttributeValue] = {
            "messaging.system": "kafka",
            "messaging.destination.name": self._topic,
            "pjs.run_id": str(event.run_id),
            "pjs.event_id": str(event.event_id),
        }
        with tracing.span(
            PUBLISH_SPAN, tracing.context_of(event), kind=SpanKind.PRODUCER, attributes=attributes
        ) as trace:
            if trace is not None:
                event = replace(event, traceparent=trace.traceparent, tracestate=trace.tracestate)
            return stored_to_kafka_record(event)

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except BaseException:
                await _stop_quietly(producer)
                raise
            self._producer = producer
        return self._producer


def parked_event(event: StoredEvent, fault: BaseException) -> ParkedEvent:
    return ParkedEvent(
        event.position, event.event_id, event.run_id, event.version, event.type, _reason(fault)
    )


def _reason(fault: BaseException) -> str:
    """The fault's name, with aiokafka's message (sizes and limits); never an event error's message, which
    may quote the payload."""
    name, text = type(fault).__name__, str(fault)
    if not isinstance(fault, KafkaError) or not text:
        return name
    return text if name in text else f"{name}: {text}"  # aiokafka's messages mostly name the error already


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), 10)
