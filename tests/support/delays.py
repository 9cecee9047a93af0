"""Sleeping runs for timer tests: RunStarted + DelayStarted appended straight to the store."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from events.catalogue import DelayElapsed, DelayStarted, RecordedEvent, RunCancelled, stamp
from events.store import AppendRequest, EventStore, PostgresEventStore
from support.runs import run_started


async def database_now(pool: asyncpg.Pool) -> datetime:
    moment: datetime = await pool.fetchval("SELECT clock_timestamp()")
    return moment


async def sleeping_runs(store: EventStore, resume_times: Sequence[datetime]) -> list[UUID]:
    """One run per resume time, each waiting in DELAY node "wait" (appended 500 runs per transaction)."""
    run_ids = [uuid.uuid4() for _ in resume_times]
    requests = []
    for run_id, resume_at in zip(run_ids, resume_times, strict=True):
        started = DelayStarted(node_id="wait", duration_seconds=1, resume_at=resume_at)
        envelopes = stamp(
            run_id, 0, [run_started(), started], now=datetime.now(UTC), causation_id=None, correlation_id=None
        )
        requests.append(AppendRequest(run_id, 0, envelopes))
    for first in range(0, len(requests), 500):
        outcome = await store.append_many(requests[first : first + 500])
        assert not outcome.conflicts
    return run_ids


async def due_runs(store: PostgresEventStore, pool: asyncpg.Pool, count: int, ago: float = 1) -> list[UUID]:
    past = await database_now(pool) - timedelta(seconds=ago)
    return await sleeping_runs(store, [past] * count)


async def cancel(store: EventStore, run_id: UUID) -> None:
    head = await store.head_version(run_id)
    envelopes = stamp(
        run_id,
        head,
        [RunCancelled(node_id="wait", reason="test")],
        now=datetime.now(UTC),
        causation_id=None,
        correlation_id=None,
    )
    await store.append(run_id, head, envelopes)


async def elapsed_events(pool: asyncpg.Pool, store: PostgresEventStore) -> list[RecordedEvent]:
    run_ids = [
        row["run_id"] for row in await pool.fetch("SELECT run_id FROM events WHERE type = 'DelayElapsed'")
    ]
    return [
        event
        for run_id in set(run_ids)
        for event in await store.read_stream(run_id)
        if isinstance(event.event, DelayElapsed)
    ]


async def fired_counts(pool: asyncpg.Pool) -> dict[UUID, int]:
    rows = await pool.fetch(
        "SELECT run_id, count(*) AS fired FROM events WHERE type = 'DelayElapsed' GROUP BY 1"
    )
    return {row["run_id"]: row["fired"] for row in rows}


async def delays_left(pool: asyncpg.Pool) -> int:
    left: int = await pool.fetchval("SELECT count(*) FROM delays")
    return left
