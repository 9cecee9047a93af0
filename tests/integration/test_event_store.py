"""The Postgres event store: optimistic appends, batches, validation before the transaction, stream reads."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from events.catalogue import MessageRequested, NewEvent, RunStarted
from events.errors import AppendRejected, StoreUnavailable
from events.store import AppendRequest, ConcurrencyConflict, PostgresEventStore, run_lock_key
from pjs.wiring import event_store
from support.runs import delay, envelopes, message, run_started


async def test_appended_events_read_back_in_version_order(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    run_id = uuid.uuid4()
    written = await store.append(run_id, 0, envelopes(run_id, 0, [run_started(), message(), delay()]))

    assert not isinstance(written, ConcurrencyConflict)
    assert [e.version for e in written] == [1, 2, 3]
    assert written[0].position < written[1].position < written[2].position
    stream = await store.read_stream(run_id)
    assert stream == written
    assert await store.read_stream(run_id, after_version=2) == written[2:]


async def test_two_appends_expecting_the_same_version_one_wins_one_conflicts(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    run_id = uuid.uuid4()
    await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))

    results = await asyncio.gather(
        store.append(run_id, 1, envelopes(run_id, 1, [message("a")])),
        store.append(run_id, 1, envelopes(run_id, 1, [message("b")])),
    )

    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(conflicts) == 1
    assert conflicts[0] == ConcurrencyConflict(run_id, expected_version=1, actual_version=2)
    assert [e.version for e in await store.read_stream(run_id)] == [1, 2]


async def test_a_stale_run_in_a_batch_is_refused_while_the_others_commit(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    fresh, stale = uuid.uuid4(), uuid.uuid4()
    await store.append(stale, 0, envelopes(stale, 0, [run_started()]))

    outcome = await store.append_many(
        [
            AppendRequest(fresh, 0, envelopes(fresh, 0, [run_started()])),
            AppendRequest(stale, 0, envelopes(stale, 0, [run_started()])),
        ]
    )

    assert list(outcome.appended) == [fresh]
    assert outcome.conflicts == [ConcurrencyConflict(stale, 0, 1)]


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


async def test_an_event_type_outside_the_catalogue_is_rejected_before_any_write(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    run_id = uuid.uuid4()
    forged = NewEvent.model_construct(**dict(envelopes(run_id, 0, [run_started()])[0]))
    object.__setattr__(forged, "event", object())

    with pytest.raises(AppendRejected, match="not an event type of the catalogue"):
        await store.append(run_id, 0, [forged])
    assert await store.head_version(run_id) == 0


async def test_a_payload_failing_its_model_is_rejected_before_any_write(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    run_id = uuid.uuid4()
    broken = MessageRequested.model_construct(node_id=None, message="hi", channel="default")  # type: ignore[arg-type]
    events = envelopes(run_id, 0, [run_started()])
    events.append(NewEvent.model_construct(**{**dict(envelopes(run_id, 1, [message()])[0]), "event": broken}))

    with pytest.raises(AppendRejected, match="node_id"):
        await store.append(run_id, 0, events)
    assert await store.head_version(run_id) == 0


async def test_a_gap_in_versions_is_rejected(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    run_id = uuid.uuid4()
    with pytest.raises(AppendRejected, match="without gaps"):
        await store.append(run_id, 0, envelopes(run_id, 1, [run_started()]))


async def test_stored_events_cannot_be_updated(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    run_id = uuid.uuid4()
    await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))
    with pytest.raises(asyncpg.RaiseError, match="immutable"):
        await pool.execute("UPDATE events SET type = 'RunCompleted' WHERE run_id = $1", run_id)


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
        for _ in range(10):
            heads = {run_id: await store.head_version(run_id) for run_id in run_ids}
            outcome = await store.append_many(
                [AppendRequest(r, v, envelopes(r, v, [message("y")])) for r, v in heads.items()]
            )
            appended += len(outcome.appended)
        return appended

    results = await asyncio.gather(
        *[single_appender() for _ in range(8)], *[batch_appender() for _ in range(4)]
    )

    total = await pool.fetchval("SELECT count(*) FROM events")
    assert total == len(run_ids) + sum(results)
    for run_id in run_ids:
        assert [e.version for e in await store.read_stream(run_id)] == list(
            range(1, await store.head_version(run_id) + 1)
        )
