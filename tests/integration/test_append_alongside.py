"""Writes in the append's own statement: new runs' status rows, and a caller's audit of the runs it starts.

Each is written exactly for the runs the append wrote, in the same transaction, and costs no round trip of
its own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
from asyncpg.connection import LoggedQuery

from events.catalogue import RunCancelled
from events.store import AppendRequest, ConcurrencyConflict
from pjs.wiring import event_store
from subscribers.audit import accesses_alongside
from support.runs import envelopes, run_started

ACTOR = "key:test"


async def test_a_batch_of_new_runs_is_written_with_their_status_rows_in_one_statement(
    pool: asyncpg.Pool,
) -> None:
    runs = [uuid.uuid4() for _ in range(3)]
    statements: list[str] = []

    def log(record: LoggedQuery) -> None:
        statements.append(record.query)

    async with pool.acquire() as connection:
        connection.add_query_logger(log)
        async with connection.transaction():
            outcome = await event_store(connection).append_many(
                [
                    AppendRequest(run, 0, envelopes(run, 0, [run_started(f"p-{n}")]))
                    for n, run in enumerate(runs)
                ]
            )
        connection.remove_query_logger(log)

    assert set(outcome.appended) == set(runs)
    writes = [
        statement for statement in statements if "append_events" in statement or "run_status" in statement
    ]
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
