"""Only the service writes the run-events topic: the user subscribers are given only reads it."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from events.broker import make_consumer, make_producer
from pjs.settings import Settings
from support.kafka import RawRecord, ce_headers, end_offsets, produce
from support.subscriber_access import services_status, subscriber_reading


async def test_the_user_services_status_gives_subscribers_is_not_the_service_s_own(
    settings: Settings,
) -> None:
    await subscriber_reading(settings)
    kafka = services_status()["kafka"]
    subscriber = kafka["subscriber"]

    assert isinstance(subscriber, dict)
    assert subscriber["username"] == "pjs-subscriber" != kafka["username"]
    assert subscriber["password"] != kafka["password"]
    assert subscriber["groupPrefix"] == "subscriber."


async def test_a_subscriber_cannot_put_a_record_on_the_run_events_topic(settings: Settings) -> None:
    subscriber = await subscriber_reading(settings)
    forged = ce_headers("pjs.run.RunCancelled.v1")  # what a forger would plant in every reader's stream
    producer = make_producer(subscriber, enable_idempotence=False, acks=1)
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(settings.run_events_topic, b"{}", partition=0, headers=forged)
    finally:
        await producer.stop()

    ends = await end_offsets(settings.kafka_connection(), settings.run_events_topic, 4)
    assert set(ends.values()) == {0}  # nothing landed


async def test_a_subscriber_reads_the_topic_in_a_group_named_subscriber_dot_anything(
    settings: Settings,
) -> None:
    subscriber = await subscriber_reading(settings)
    record = RawRecord(1, b"{}", ce_headers(None))
    await produce(settings.kafka_connection(), settings.run_events_topic, [record])
    consumer = make_consumer(subscriber, f"subscriber.{uuid.uuid4().hex[:8]}", settings.run_events_topic)
    await consumer.start()
    try:
        batches = {}
        while not batches:
            batches = await consumer.getmany(timeout_ms=500)
        await consumer.commit()
    finally:
        await consumer.stop()

    [records] = batches.values()
    assert [record.value for record in records] == [b"{}"]


async def test_a_subscriber_group_named_otherwise_is_refused(settings: Settings) -> None:
    subscriber = await subscriber_reading(settings)
    consumer = make_consumer(subscriber, f"audit-{uuid.uuid4().hex[:8]}", settings.run_events_topic)

    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await consumer.start()
            await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
