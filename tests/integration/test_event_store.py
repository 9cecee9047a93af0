"""Postgres-only store behaviour: run locks, racing transactions, immutable rows, lost connections."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg
import pytest

from events.catalogue import RunStarted
from events.errors import StoreUnavailable
from events.run_locks import run_lock_key
from events.store import AppendRequest, ConcurrencyConflict, PostgresEventStore
from pjs.wiring import event_store
from support.runs import envelopes, message, run_started


async def test_appends_to_different_runs_do_not_wait_for_each_other(pool: asyncpg.Pool) -> None:
    release = asyncio.Event()
    held = asyncio.Event()
    slow_run = uuid.uuid4()

    async def hold_the_slow_runs_transaction(connection: object, events: list[object]) -> None:
        if any(getattr(e, "run_id", None) == slow_run for e in events):
            held.set()
            await release.wait()

    store = PostgresEventStore(pool, [hold_the_slow_runs_transaction])  # type: ignore[list-item]
    slow = asyncio.create_task(store.append(slow_run, 0, envelopes(slow_run, 0, [run_started()])))
    await held.wait()
    other = uuid.uuid4()
    async with asyncio.timeout(5):
        result = await store.append(other, 0, envelopes(other, 0, [run_started()]))
    assert not isinstance(result, ConcurrencyConflict)
    release.set()
    await slow


async def test_stored_events_cannot_be_updated(pool: asyncpg.Pool, migration_pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    run_id = uuid.uuid4()
    await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))
    forge = "UPDATE events SET type = 'RunCompleted' WHERE run_id = $1"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the application may not even try
        await pool.execute(forge, run_id)
    with pytest.raises(asyncpg.RaiseError, match="immutable"):  # and the trigger stops the schema's owner
        await migration_pool.execute(forge, run_id)


async def test_a_stored_v1_run_started_reads_back_as_the_current_schema(pool: asyncpg.Pool) -> None:
    run_id = uuid.uuid4()
    await pool.execute(
        """INSERT INTO events (event_id, run_id, version, type, schema_version, data, recorded_at)
           VALUES ($1, $2, 1, 'RunStarted', 1, $3::jsonb, now())""",
        uuid.uuid4(),
        run_id,
        '{"journey_id": "00000000-0000-4000-8000-000000000001", "start_node_id": "a",'
        ' "patient_context": {"id": "p", "age": 1, "language": "en"}}',
    )
    [event] = await event_store(pool).read_stream(run_id)
    assert isinstance(event.event, RunStarted)
    assert event.event.journey_version == 1


async def test_a_connection_lost_mid_append_fails_retryably_with_nothing_written(pool: asyncpg.Pool) -> None:
    async def server_drops_the_connection(connection: asyncpg.Connection, events: object) -> None:
        await connection.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    store = PostgresEventStore(pool, [server_drops_the_connection])  # type: ignore[list-item]
    run_id = uuid.uuid4()
    with pytest.raises(StoreUnavailable):
        await store.append(run_id, 0, envelopes(run_id, 0, [run_started(), message()]))
    assert await event_store(pool).head_version(run_id) == 0


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda store, run_id: store.read_stream(run_id), id="read_stream"),
        pytest.param(lambda store, run_id: store.head_version(run_id), id="head_version"),
    ],
)
async def test_a_read_from_an_unreachable_database_raises_store_unavailable(
    read: Callable[[PostgresEventStore, UUID], Awaitable[object]],
) -> None:
    with socket.socket() as bound_but_not_listening:
        # Bound and never listening, the port refuses every connection and no other process can take it.
        bound_but_not_listening.bind(("127.0.0.1", 0))
        port = bound_but_not_listening.getsockname()[1]
        async with asyncpg.create_pool(f"postgresql://pjs@127.0.0.1:{port}/pjs", min_size=0) as pool:
            store = PostgresEventStore(pool)

            with pytest.raises(StoreUnavailable):
                await read(store, uuid.uuid4())


async def test_the_run_lock_key_is_the_same_in_python_and_in_sql(pool: asyncpg.Pool) -> None:
    for run_id in [uuid.uuid4() for _ in range(50)] + [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]:
        assert await pool.fetchval("SELECT run_lock_key($1)", run_id) == run_lock_key(run_id)


async def test_a_batch_racing_single_appends_to_the_same_runs_gets_conflicts_never_failures(
    pool: asyncpg.Pool,
) -> None:
    store = event_store(pool)
    run_ids = [uuid.uuid4() for _ in range(20)]
    for run_id in run_ids:
        await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))

    async def single_appender() -> int:
        appended = 0
        for run_id in run_ids:
            head = await store.head_version(run_id)
            if isinstance(await store.append(run_id, head, envelopes(run_id, head, [message("x")])), list):
                appended += 1
        return appended

    async def batch_appender() -> int:
        appended = 0
        for _ in range(rounds):
            heads = {run_id: await store.head_version(run_id) for run_id in run_ids}
            outcome = await store.append_many(
                [AppendRequest(r, v, envelopes(r, v, [message("y")])) for r, v in heads.items()]
            )
            appended += len(outcome.appended)
        return appended

    singles, batches, rounds = 8, 4, 10
    results = await asyncio.gather(
        *[single_appender() for _ in range(singles)], *[batch_appender() for _ in range(batches)]
    )

    attempted = (singles + batches * rounds) * len(run_ids)
    assert sum(results) < attempted, "no append was refused as stale, so the appends never raced"
    total = await pool.fetchval("SELECT count(*) FROM events")
    assert total == len(run_ids) + sum(results)
    for run_id in run_ids:
        assert [e.version for e in await store.read_stream(run_id)] == list(
            range(1, await store.head_version(run_id) + 1)
        )


async def test_an_append_inside_the_callers_transaction_commits_or_rolls_back_with_it(
    pool: asyncpg.Pool,
) -> None:
    kept, dropped = uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as connection:
        async with connection.transaction():
            assert isinstance(
                await event_store(connection).append(kept, 0, envelopes(kept, 0, [run_started()])), list
            )
        with pytest.raises(RuntimeError):
            async with connection.transaction():
                await event_store(connection).append(dropped, 0, envelopes(dropped, 0, [run_started()]))
                raise RuntimeError("the caller's work after the append failed")

    assert await event_store(pool).head_version(kept) == 1
    assert await event_store(pool).head_version(dropped) == 0
    assert await pool.fetchval("SELECT count(*) FROM run_status WHERE run_id = $1", dropped) == 0


async def test_an_append_on_a_connection_outside_a_transaction_is_one_transaction_of_its_own(
    pool: asyncpg.Pool,
) -> None:
    run_id = uuid.uuid4()
    async with pool.acquire() as connection:
        written = await event_store(connection).append(
            run_id, 0, envelopes(run_id, 0, [run_started(), message()])
        )
        assert not connection.is_in_transaction()

    assert isinstance(written, list) and [event.version for event in written] == [1, 2]
    assert await pool.fetchval("SELECT version FROM run_status WHERE run_id = $1", run_id) == 2
