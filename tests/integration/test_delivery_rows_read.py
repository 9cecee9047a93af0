"""Recording a delivery reads only the rows of the deliveries it records, whatever plan the session cached.

A plan made while message_deliveries was empty (a new deployment) is kept until the table is next
analyzed; one that joined the batch to the table by hashing it read every delivery of every run on each
batch. Each test plans its statement on an empty (or one-row) table, then gives the table 2,000 deliveries
of other runs, and counts the rows of message_deliveries the statement reads for one run's delivery.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import pytest

from engine.message_deliveries import PostgresDeliveryLedger
from events.catalogue import MessageBounced, MessageDelivered, RecordedEvent, RunEvent, stamp
from events.store import PostgresEventStore
from pjs.settings import Settings
from pjs.wiring import event_store
from support.plans import GENERIC_PLANS, rows_read, rows_read_in_transaction
from support.runs import T0, envelopes, message, run_started

OTHER_DELIVERIES = 2_000
TABLE = "message_deliveries"


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A session of the workers' role that plans each statement once, at its first execution."""
    connection = await asyncpg.connect(database_url)
    await connection.execute(GENERIC_PLANS)
    yield connection
    await connection.close()


async def other_deliveries(db: asyncpg.Connection | asyncpg.Pool, status: str) -> None:
    """OTHER_DELIVERIES deliveries of other runs, still open, as a busy clinic has."""
    await db.execute(
        "INSERT INTO message_deliveries (run_id, node_id, visit, request_event_id, status, claimed_at)"
        " SELECT gen_random_uuid(), 'welcome', 2, gen_random_uuid(), $1, now()"
        " FROM generate_series(1, $2)",
        status,
        OTHER_DELIVERIES,
    )


async def requested(store: PostgresEventStore) -> RecordedEvent:
    run_id = uuid.uuid4()
    written = await store.append(run_id, 0, envelopes(run_id, 0, [run_started(), message("welcome")]))
    assert isinstance(written, list)
    return written[-1]


async def caused_by(store: PostgresEventStore, run_id: UUID, head: int, cause: UUID, event: RunEvent) -> None:
    """Append `event` at the run's head as the outcome (or receipt) of the request `cause`."""
    stamped = stamp(run_id, head, [event], now=T0, causation_id=cause, correlation_id=None)
    assert isinstance(await store.append(run_id, head, stamped), list)


async def recorded_among_others(
    connection: asyncpg.Connection, settings: Settings, event: RunEvent, others: str
) -> tuple[RecordedEvent, int]:
    """Record `event` once while no delivery is stored (for a request unknown), which plans its statement;
    store OTHER_DELIVERIES of other runs in status `others`; then record `event` for a new request. The
    request, and the rows of message_deliveries that last recording read."""
    store = event_store(connection, settings)
    stray = uuid.uuid4()
    await store.append(stray, 0, envelopes(stray, 0, [run_started()]))
    await caused_by(store, stray, 1, uuid.uuid4(), event)
    await other_deliveries(connection, others)
    request = await requested(store)
    async with connection.transaction():
        before = await rows_read_in_transaction(connection, TABLE)
        await caused_by(store, request.run_id, request.version, request.event_id, event)
        return request, await rows_read_in_transaction(connection, TABLE) - before


async def test_recording_a_send_outcome_reads_only_its_delivery_even_under_a_plan_made_on_an_empty_table(
    connection: asyncpg.Connection, settings: Settings
) -> None:
    sent = MessageDelivered(node_id="welcome", provider_message_id="sm-1", attempts=1)

    request, read = await recorded_among_others(connection, settings, sent, "sending")

    row = await connection.fetchrow(
        "SELECT status, provider_message_id, outcome_version FROM message_deliveries"
        " WHERE request_event_id = $1",
        request.event_id,
    )
    assert row is not None and tuple(row) == ("delivered", "sm-1", request.version + 1)
    assert (
        await connection.fetchval("SELECT count(*) FROM message_deliveries WHERE status = 'delivered'") == 1
    )
    assert read <= 2


async def test_recording_a_receipt_reads_only_its_delivery_even_under_a_plan_made_on_an_empty_table(
    connection: asyncpg.Connection, settings: Settings
) -> None:
    bounced = MessageBounced(node_id="welcome", provider_message_id="sm-1", reason="unknown number")

    request, read = await recorded_among_others(connection, settings, bounced, "delivered")

    receipts = await connection.fetch(
        "SELECT request_event_id, receipt FROM message_deliveries WHERE receipt IS NOT NULL"
    )
    assert [tuple(r) for r in receipts] == [(request.event_id, "bounced")]
    assert read <= 2


async def test_claiming_requests_another_worker_sends_reads_only_theirs_even_under_a_plan_made_on_one_row(
    database_url: str, settings: Settings
) -> None:
    async with asyncpg.create_pool(
        database_url, min_size=1, max_size=1, server_settings={"plan_cache_mode": "force_generic_plan"}
    ) as one_session:
        store = event_store(one_session, settings)
        ledger = PostgresDeliveryLedger(one_session, store)
        first = await requested(store)
        await ledger.claim([first], 60)
        assert (await ledger.claim([first], 60)).busy_elsewhere == 1  # planned now, on a table of one row
        await other_deliveries(one_session, "sending")
        ours = [await requested(store), await requested(store)]
        await ledger.claim(ours, 60)

        before = await rows_read(one_session, TABLE)
        again = await ledger.claim(ours, 60)  # another worker's claim, say, within the lease
        read = await rows_read(one_session, TABLE) - before

    assert (again.ours, again.busy_elsewhere) == ([], 2)
    assert read <= 2 * len(ours)  # the claim's own conflict check, then the count of the busy ones
