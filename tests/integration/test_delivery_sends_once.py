"""Delivery sends each requested message once per node visit and records the outcome on the run."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from uuid import UUID

import asyncpg

from domain.decider import CANCELLED_BEFORE_SENDING
from domain.message_outcomes import SendOutcome, Sent
from engine.channels import Channel, OutgoingMessage, WebhookChannel, WebhookConfig
from engine.delivery_worker import DeliveryConfig
from events.broker import make_producer
from events.catalogue import MessageDelivered, MessageFailed, RecordedEvent, RunCancelled
from events.consumer_group import GroupLoop
from events.envelope import to_kafka_record
from pjs.roles import group_config
from pjs.settings import Settings
from pjs.wiring import dead_letters, delivery_worker, event_store
from support.roles import eventually, in_process
from support.runs import envelopes, message, run_started
from support.webhook import scripted_webhook


class RecordingChannel:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        self.sent.append(message.idempotency_key)
        return Sent(provider_message_id=f"p-{len(self.sent)}", attempts=1)


@contextlib.asynccontextmanager
async def delivering(settings: Settings, pool: asyncpg.Pool, channel: Channel) -> AsyncIterator[list[int]]:
    """Relay + a delivery worker; yields a one-item list counting the MessageRequested records consumed."""
    worker = delivery_worker(pool, channel, DeliveryConfig(), Settings())
    consumed = [0]

    async def handle(events: Sequence[RecordedEvent]) -> None:
        await worker.handle(events)
        consumed[0] += sum(e.event.type == "MessageRequested" for e in events)

    loop = GroupLoop(group_config(settings, settings.delivery_group, 100), handle, dead_letters(pool))
    async with in_process(settings, "relay"):
        stop = asyncio.Event()
        task = asyncio.create_task(loop.run(stop))
        try:
            yield consumed
        finally:
            stop.set()
            async with asyncio.timeout(20):
                await task


async def requested_runs(pool: asyncpg.Pool, runs: int) -> list[UUID]:
    store = event_store(pool)
    run_ids = []
    for _ in range(runs):
        run_id = uuid.uuid4()
        written = await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))
        assert isinstance(written, list)
        await store.append(run_id, 1, envelopes(run_id, 1, [message("pre-op"), message("leaflet")]))
        run_ids.append(run_id)
    return run_ids


async def outcomes(pool: asyncpg.Pool, run_id: UUID) -> list[RecordedEvent]:
    stream = await event_store(pool).read_stream(run_id)
    return [e for e in stream if isinstance(e.event, MessageDelivered | MessageFailed)]


async def open_deliveries(pool: asyncpg.Pool) -> int:
    left: int = await pool.fetchval(
        "SELECT count(*) FROM message_deliveries WHERE status IN ('requested', 'sending')"
    )
    return left


async def test_each_requested_message_is_delivered_once_even_when_consumed_twice(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    run_ids = await requested_runs(pool, 10)
    channel = RecordingChannel()
    async with delivering(settings, pool, channel) as consumed:
        await eventually(lambda: _all_done(pool), seconds=30)
        await _publish_again(settings, pool, run_ids)  # Kafka's at-least-once, made to happen
        await eventually(lambda: _at_least(consumed, 40), seconds=30)

    expected = {
        f"{run_id}:{node}:{visit}" for run_id in run_ids for node, visit in (("pre-op", 2), ("leaflet", 3))
    }
    assert sorted(channel.sent) == sorted(expected)
    for run_id in run_ids:
        recorded = await outcomes(pool, run_id)
        assert sorted(getattr(e.event, "node_id", "") for e in recorded) == ["leaflet", "pre-op"]
        assert {e.causation_id for e in recorded} == {
            e.event_id for e in (await event_store(pool).read_stream(run_id))[1:3]
        }


async def test_the_webhook_is_retried_with_backoff_then_the_failure_is_recorded(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    [run_id] = await requested_runs(pool, 1)
    with scripted_webhook([503]) as server:
        channel = WebhookChannel(WebhookConfig(url=server.url, max_attempts=3, backoff_seconds=0.05))
        async with delivering(settings, pool, channel):
            await eventually(lambda: _all_done(pool), seconds=30)
        await channel.aclose()

    failures = sorted((e.event for e in await outcomes(pool, run_id)), key=lambda event: event.node_id)
    assert failures == [
        MessageFailed(node_id=node, reason="webhook answered HTTP 503 after 3 attempts", attempts=3)
        for node in ("leaflet", "pre-op")
    ]
    for key in (f"{run_id}:pre-op:2", f"{run_id}:leaflet:3"):
        times = [r.at for r in server.received if r.idempotency_key == key]
        assert len(times) == 3
        assert times[1] - times[0] >= 0.05 and times[2] - times[1] >= 0.1
    statuses = await pool.fetch(
        "SELECT status, attempts, reason FROM message_deliveries WHERE run_id = $1", run_id
    )
    assert [(r["status"], r["attempts"]) for r in statuses] == [("failed", 3), ("failed", 3)]


async def test_the_idempotency_key_stays_the_same_across_webhook_retries(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    [run_id] = await requested_runs(pool, 1)
    with scripted_webhook([500, 500, 200]) as server:
        channel = WebhookChannel(WebhookConfig(url=server.url, max_attempts=5, backoff_seconds=0.02))
        async with delivering(settings, pool, channel):
            await eventually(lambda: _all_done(pool), seconds=30)
        await channel.aclose()

    keys = [r.idempotency_key for r in server.received]
    assert sorted(set(keys)) == sorted({f"{run_id}:pre-op:2", f"{run_id}:leaflet:3"})
    delivered = [e.event for e in await outcomes(pool, run_id)]
    assert all(isinstance(event, MessageDelivered) for event in delivered)
    assert sum(event.attempts for event in delivered) == len(keys)  # one success, after every retry


async def test_a_send_interrupted_before_it_was_recorded_is_sent_again_with_the_same_key(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    [run_id] = await requested_runs(pool, 1)
    # A worker claimed this visit long ago and died before recording the outcome.
    await pool.execute(
        "UPDATE message_deliveries SET status = 'sending', claims = 1, claimed_at = now() - interval '1 hour'"
        " WHERE run_id = $1 AND node_id = 'pre-op'",
        run_id,
    )
    channel = RecordingChannel()
    async with delivering(settings, pool, channel):
        await eventually(lambda: _all_done(pool), seconds=30)

    assert sorted(channel.sent) == sorted([f"{run_id}:pre-op:2", f"{run_id}:leaflet:3"])
    claims = await pool.fetchval("SELECT claims FROM message_deliveries WHERE node_id = 'pre-op'")
    assert claims == 2


async def _all_done(pool: asyncpg.Pool) -> bool:
    total = await pool.fetchval("SELECT count(*) FROM message_deliveries")
    return bool(total) and await open_deliveries(pool) == 0


async def _at_least(consumed: list[int], count: int) -> bool:
    return consumed[0] >= count


async def _publish_again(settings: Settings, pool: asyncpg.Pool, run_ids: list[UUID]) -> None:
    producer = make_producer(settings.kafka_connection())
    await producer.start()
    try:
        for run_id in run_ids:
            for event in await event_store(pool).read_stream(run_id):
                record = to_kafka_record(event)
                await producer.send_and_wait(
                    settings.run_events_topic, record.value, key=record.key, headers=record.headers
                )
    finally:
        await producer.stop()


async def test_a_message_still_queued_when_its_run_is_cancelled_is_never_sent(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    store = event_store(pool)
    run_id = uuid.uuid4()
    await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))
    await store.append(
        run_id, 1, envelopes(run_id, 1, [message("pre-op"), RunCancelled(node_id="pre-op", reason=None)])
    )
    channel = RecordingChannel()

    async with delivering(settings, pool, channel) as consumed:
        await eventually(lambda: _at_least(consumed, 1), seconds=30)
        await eventually(lambda: _all_done(pool), seconds=30)

    assert channel.sent == []
    [failed] = await outcomes(pool, run_id)
    assert isinstance(failed.event, MessageFailed)
    assert failed.event.reason == CANCELLED_BEFORE_SENDING
