"""Writes in the append's own statement: new runs' status rows, and a caller's audit of the runs it starts.

Each is written exactly for the runs the append wrote, in the same transaction, and costs no round trip of
its own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
from asyncpg.connection import LoggedQuery

from engine.run_status import PostgresRunHeads
from events.catalogue import RunCancelled
from events.store import AppendRequest, BatchOutcome, ConcurrencyConflict
from pjs.wiring import event_store
from subscribers.audit import accesses_alongside
from support.runs import envelopes, message, run_started

ACTOR = "key:test"


async def append_logging_writes(
    pool: asyncpg.Pool, requests: list[AppendRequest]
) -> tuple[BatchOutcome, list[str]]:
    """The append's outcome, and the statements it sent that touch the events or run_status."""
    statements: list[str] = []

    def log(record: LoggedQuery) -> None:
        statements.append(record.query)

    async with pool.acquire() as connection:
        connection.add_query_logger(log)
        async with connection.transaction():
            outcome = await event_store(connection).append_many(requests)
        connection.remove_query_logger(log)
    return outcome, [text for text in statements if "append_events" in text or "run_status" in text]


async def test_a_batch_of_new_runs_is_written_with_their_status_rows_in_one_statement(
    pool: asyncpg.Pool,
) -> None:
    runs = [uuid.uuid4() for _ in range(3)]

    outcome, writes = await append_logging_writes(
        pool,
        [AppendRequest(run, 0, envelopes(run, 0, [run_started(f"p-{n}")])) for n, run in enumerate(runs)],
    )

    assert set(outcome.appended) == set(runs)
    assert len(writes) == 1 and "INSERT INTO run_status" in writes[0]
    rows = await pool.fetch("SELECT run_id, version, status FROM run_status WHERE run_id = ANY($1)", runs)
    assert {(row["run_id"], row["version"], row["status"]) for row in rows} == {
        (run, 1, "in_progress") for run in runs
    }


async def test_writes_alongside_an_append_skip_the_runs_it_did_not_write(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    existing, new = uuid.uuid4(), uuid.uuid4()
    await store.append(existing, 0, envelopes(existing, 0, [run_started("first-patient")]))
    status_before = await pool.fetchrow("SELECT * FROM run_status WHERE run_id = $1", existing)
    audit = accesses_alongside(
        [(ACTOR, existing), (ACTOR, new)], action="RunTriggered", occurred_at=datetime.now(UTC)
    )

    outcome = await store.append_many(
        [
            AppendRequest(existing, 0, envelopes(existing, 0, [run_started("second-patient")])),
            AppendRequest(new, 0, envelopes(new, 0, [run_started("second-patient")])),
        ],
        alongside=[audit],
    )

    assert outcome.conflicts == [ConcurrencyConflict(existing, 0, 1)]
    assert set(outcome.appended) == {new}
    audited = await pool.fetch("SELECT run_id FROM audit_log WHERE actor = $1", ACTOR)
    assert [row["run_id"] for row in audited] == [new]
    assert await pool.fetchrow("SELECT * FROM run_status WHERE run_id = $1", existing) == status_before
    assert await pool.fetchval("SELECT count(*) FROM run_status WHERE run_id = $1", new) == 1


async def test_a_batch_that_continues_a_run_projects_every_status_row_after_the_append(
    pool: asyncpg.Pool,
) -> None:
    store = event_store(pool)
    running, new = uuid.uuid4(), uuid.uuid4()
    await store.append(running, 0, envelopes(running, 0, [run_started()]))

    await store.append_many(
        [
            AppendRequest(running, 1, envelopes(running, 1, [RunCancelled(node_id=None, reason="test")])),
            AppendRequest(new, 0, envelopes(new, 0, [run_started()])),
        ]
    )

    rows = await pool.fetch(
        "SELECT run_id, version, status FROM run_status WHERE run_id = ANY($1)", [running, new]
    )
    assert {(row["run_id"], row["version"], row["status"]) for row in rows} == {
        (running, 2, "cancelled"),
        (new, 1, "in_progress"),
    }


async def test_a_running_runs_status_row_is_folded_onto_the_state_its_caller_read_in_one_statement(
    pool: asyncpg.Pool,
) -> None:
    run = uuid.uuid4()
    await event_store(pool).append(run, 0, envelopes(run, 0, [run_started()]))
    read = (await PostgresRunHeads(pool).load([run]))[run]

    cancel = envelopes(run, 1, [RunCancelled(node_id=None, reason="test")])
    outcome, writes = await append_logging_writes(pool, [AppendRequest(run, 1, cancel, prior=read)])

    assert set(outcome.appended) == {run}
    assert len(writes) == 1 and "INSERT INTO run_status" in writes[0]
    row = await pool.fetchrow("SELECT version, status, journey_id FROM run_status WHERE run_id = $1", run)
    assert (row["version"], row["status"], row["journey_id"]) == (2, "cancelled", read.journey_id)


async def test_a_state_read_before_the_run_moved_on_writes_no_status_row(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    run = uuid.uuid4()
    await store.append(run, 0, envelopes(run, 0, [run_started()]))
    stale = (await PostgresRunHeads(pool).load([run]))[run]
    await store.append(run, 1, envelopes(run, 1, [message()]))  # someone else advanced the run
    moved_on = await pool.fetchrow("SELECT * FROM run_status WHERE run_id = $1", run)

    # Folded onto the stale state, these would make a row at version 3, past the one the other writer left.
    late = envelopes(run, 1, [message("late"), RunCancelled(node_id=None, reason="test")])
    outcome = await store.append_many([AppendRequest(run, 1, late, prior=stale)])

    assert outcome.conflicts == [ConcurrencyConflict(run, 1, 2)]
    assert await pool.fetchrow("SELECT * FROM run_status WHERE run_id = $1", run) == moved_on
