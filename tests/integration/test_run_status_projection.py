"""`run_status` folds a batch's events onto each run's row: a run's first events need no read, and a
redelivered old event never moves a row back."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import pytest

from engine import run_status
from events.catalogue import RecordedEvent, RunCompleted, stamp
from events.store import ConcurrencyConflict, PostgresEventStore
from pjs.wiring import event_store
from support.journeys import message, patient, save_journey, start_run


@pytest.fixture
async def completed_run(pool: asyncpg.Pool) -> list[RecordedEvent]:
    """A run's stream: RunStarted, RunCompleted (its row at version 2, completed)."""
    journey_id, journey = await save_journey(pool, "hello", message("hello"))
    store = event_store(pool)
    run_id = await start_run(store, journey_id, journey, patient())
    await _complete(store, run_id)
    return await store.read_stream(run_id)


async def test_a_redelivered_first_event_leaves_a_row_that_is_further_on_as_it_is(
    pool: asyncpg.Pool, completed_run: list[RecordedEvent]
) -> None:
    stream = completed_run
    run_id = stream[0].run_id

    async with pool.acquire() as connection, connection.transaction():
        await run_status.apply(connection, stream[:1])  # RunStarted again (a redelivery)

    assert await _row(pool, run_id) == (2, "completed")


async def test_a_run_new_in_the_batch_is_folded_from_its_first_event(
    pool: asyncpg.Pool, completed_run: list[RecordedEvent]
) -> None:
    stream = completed_run
    run_id = stream[0].run_id
    await pool.execute("DELETE FROM run_status WHERE run_id = $1", run_id)

    async with pool.acquire() as connection, connection.transaction():
        await run_status.apply(connection, stream)

    assert await _row(pool, run_id) == (2, "completed")


async def _complete(store: PostgresEventStore, run_id: UUID) -> None:
    completed = stamp(
        run_id, 1, [RunCompleted(last_node_id="hello")], now=datetime.now(UTC), causation_id=None,
        correlation_id=run_id,
    )  # fmt: skip
    written = await store.append(run_id, 1, completed)
    assert not isinstance(written, ConcurrencyConflict)


async def _row(pool: asyncpg.Pool, run_id: UUID) -> tuple[int, str]:
    row = await pool.fetchrow("SELECT version, status FROM run_status WHERE run_id = $1", run_id)
    assert row is not None
    return row["version"], row["status"]


async def test_a_batch_that_repeats_older_events_out_of_order_changes_nothing(
    pool: asyncpg.Pool, completed_run: list[RecordedEvent]
) -> None:
    started, completed = completed_run

    async with pool.acquire() as connection, connection.transaction():
        await run_status.apply(connection, [completed, started, completed])  # its first is not version 1

    assert await _row(pool, started.run_id) == (2, "completed")
