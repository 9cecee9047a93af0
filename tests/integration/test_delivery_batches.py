"""Delivery records a whole batch's outcomes together, on each run's current head, without sending twice."""

from __future__ import annotations

import uuid
from uuid import UUID

import asyncpg
import pytest

from domain.message_outcomes import SendOutcome, Sent
from engine.channels import OutgoingMessage
from engine.delivery_worker import DeliveryConfig
from events.catalogue import MessageDelivered, MessageFailed, MessageRequested, RecordedEvent
from events.retry import RetryLater
from events.store import PostgresEventStore
from pjs.settings import Settings
from pjs.wiring import delivery_worker, event_store
from support.runs import envelopes, message, run_started


class RecordingChannel:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        self.sent.append(message.idempotency_key)
        return Sent(provider_message_id=f"p-{len(self.sent)}", attempts=1)


class AppendingChannel(RecordingChannel):
    """While the first message is out, someone else (the engine, say) appends to its run."""

    def __init__(self, store: PostgresEventStore) -> None:
        super().__init__()
        self._store = store

    async def send(self, outgoing: OutgoingMessage) -> SendOutcome:
        if not self.sent:
            run_id = outgoing.run_id
            written = await self._store.append(run_id, 3, envelopes(run_id, 3, [message("x")]))
            assert isinstance(written, list)
        return await super().send(outgoing)


def node(event: RecordedEvent) -> str:
    assert isinstance(event.event, MessageRequested | MessageDelivered | MessageFailed)
    return event.event.node_id


async def requested(pool: asyncpg.Pool, runs: int) -> list[RecordedEvent]:
    """Runs at version 3 with two MessageRequested each (pre-op at 2, leaflet at 3)."""
    store = event_store(pool)
    events = []
    for _ in range(runs):
        run_id = uuid.uuid4()
        await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))
        await store.append(run_id, 1, envelopes(run_id, 1, [message("pre-op"), message("leaflet")]))
        events.extend((await store.read_stream(run_id))[1:])
    return events


async def outcomes(pool: asyncpg.Pool, run_id: UUID) -> list[RecordedEvent]:
    stream = await event_store(pool).read_stream(run_id)
    return [e for e in stream if isinstance(e.event, MessageDelivered | MessageFailed)]


async def test_a_batch_records_every_outcome_in_one_transaction_at_consecutive_versions(
    pool: asyncpg.Pool,
) -> None:
    batch = await requested(pool, 3)
    channel = RecordingChannel()
    worker = delivery_worker(pool, channel, DeliveryConfig(), Settings())

    await worker.handle([*batch, *batch])  # a record consumed twice in one batch is one request

    assert sorted(channel.sent) == sorted(f"{e.run_id}:{node(e)}:{e.version}" for e in batch)
    for run_id in {e.run_id for e in batch}:
        recorded = await outcomes(pool, run_id)
        assert [e.version for e in recorded] == [4, 5]
        causes = {e.event_id: node(e) for e in batch if e.run_id == run_id}
        assert [causes.get(e.causation_id or uuid.uuid4()) for e in recorded] == [node(e) for e in recorded]
    transactions = await pool.fetchval(
        "SELECT count(DISTINCT transaction_id) FROM events"
        " WHERE type IN ('MessageDelivered', 'MessageFailed')"
    )
    assert transactions == 1
    assert await pool.fetchval("SELECT count(*) FROM message_deliveries WHERE status <> 'delivered'") == 0

    await worker.handle(batch)  # redelivered later: nothing is sent or recorded again
    assert len(channel.sent) == len(batch)


async def test_an_outcome_lands_on_the_new_head_when_the_run_moved_on_during_the_send(
    pool: asyncpg.Pool,
) -> None:
    batch = await requested(pool, 1)
    run_id = batch[0].run_id
    channel = AppendingChannel(event_store(pool))
    worker = delivery_worker(pool, channel, DeliveryConfig(concurrency=1), Settings())

    await worker.handle(batch)

    stream = await event_store(pool).read_stream(run_id)
    assert [e.version for e in stream] == [1, 2, 3, 4, 5, 6]
    assert [e.causation_id for e in stream[4:]] == [e.event_id for e in batch]
    statuses = await pool.fetch(
        "SELECT node_id, status, outcome_version FROM message_deliveries WHERE run_id = $1 ORDER BY visit",
        run_id,
    )
    assert [tuple(r) for r in statuses] == [
        ("pre-op", "delivered", 5),
        ("leaflet", "delivered", 6),
        ("x", "requested", None),
    ]


async def test_a_visit_another_worker_is_sending_is_left_to_it_and_the_rest_is_delivered(
    pool: asyncpg.Pool,
) -> None:
    batch = await requested(pool, 1)
    run_id = batch[0].run_id
    await pool.execute(
        "UPDATE message_deliveries SET status = 'sending', claims = 1, claimed_at = now()"
        " WHERE run_id = $1 AND node_id = 'pre-op'",
        run_id,
    )
    channel = RecordingChannel()
    worker = delivery_worker(pool, channel, DeliveryConfig(), Settings())

    with pytest.raises(RetryLater):
        await worker.handle(batch)

    assert channel.sent == [f"{run_id}:leaflet:3"]
    assert [node(e) for e in await outcomes(pool, run_id)] == ["leaflet"]
