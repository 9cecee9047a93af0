"""The transactions writers open: one bound to a tenant from its first round trip, savepoints inside it, and
an append that joins it, each against the real Postgres."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.errors import AppendRaced
from events.pg import Connection, TransactionAborted, tenant_transaction, transaction
from events.tenancy import DEFAULT_TENANT_ID, TENANT_SETTING
from pjs.wiring import event_store
from support.runs import envelopes, message, run_started


@pytest.fixture
async def connection(pool: asyncpg.Pool) -> AsyncIterator[Connection]:
    """A connection with a scratch table of its own (temporary: no other test sees it)."""
    async with pool.acquire() as acquired:
        await acquired.execute("CREATE TEMP TABLE scratch (n int)")
        try:
            yield acquired
        finally:
            await acquired.execute("DROP TABLE scratch")


async def stored(connection: Connection) -> list[int]:
    return [row["n"] for row in await connection.fetch("SELECT n FROM scratch ORDER BY n")]


async def test_a_tenant_transaction_is_bound_to_its_tenant_and_only_while_it_lasts(
    connection: Connection,
) -> None:
    tenant = uuid.uuid4()
    async with tenant_transaction(connection, tenant):
        assert await connection.fetchval("SELECT current_setting($1, true)", TENANT_SETTING) == str(tenant)

    assert not connection.is_in_transaction()
    assert await connection.fetchval("SELECT current_setting($1, true)", TENANT_SETTING) in ("", None)


async def test_a_tenant_transaction_commits_its_writes_and_rolls_them_back_when_its_body_raises(
    connection: Connection,
) -> None:
    async with tenant_transaction(connection, DEFAULT_TENANT_ID):
        await connection.execute("INSERT INTO scratch VALUES (1)")
    with pytest.raises(RuntimeError, match="the work after the write failed"):
        async with tenant_transaction(connection, DEFAULT_TENANT_ID):
            await connection.execute("INSERT INTO scratch VALUES (2)")
            raise RuntimeError("the work after the write failed")

    assert await stored(connection) == [1]
    assert not connection.is_in_transaction()


async def test_a_nested_transaction_rolls_back_alone(connection: Connection) -> None:
    async with tenant_transaction(connection, DEFAULT_TENANT_ID):
        await connection.execute("INSERT INTO scratch VALUES (1)")
        with pytest.raises(ValueError):
            async with transaction(connection):
                await connection.execute("INSERT INTO scratch VALUES (2)")
                raise ValueError("the nested work failed")
        async with transaction(connection):
            await connection.execute("INSERT INTO scratch VALUES (3)")

    assert await stored(connection) == [1, 3]


async def test_a_transaction_whose_work_went_on_after_an_error_is_refused_at_commit(
    connection: Connection,
) -> None:
    with pytest.raises(TransactionAborted):
        async with tenant_transaction(connection, DEFAULT_TENANT_ID):
            await connection.execute("INSERT INTO scratch VALUES (1)")
            with contextlib.suppress(asyncpg.DivisionByZeroError):
                await connection.execute("SELECT 1 / 0")

    assert await stored(connection) == []


async def test_a_tenant_id_that_is_not_a_uuid_never_reaches_the_sql(connection: Connection) -> None:
    with pytest.raises(TypeError, match="a tenant id is a UUID"):
        async with tenant_transaction(connection, "x', true); DROP TABLE scratch; --"):  # type: ignore[arg-type]
            pass

    assert not connection.is_in_transaction()
    assert await stored(connection) == []


async def test_an_append_in_the_callers_transaction_that_lost_a_race_fails_it_and_a_retry_succeeds(
    pool: asyncpg.Pool,
) -> None:
    run_id = uuid.uuid4()
    with pytest.raises(AppendRaced):
        async with pool.acquire() as caller, tenant_transaction(caller, DEFAULT_TENANT_ID):
            await caller.fetchval("SELECT pg_current_xact_id()")  # the caller's transaction id comes first
            started = await event_store(pool).append(run_id, 0, envelopes(run_id, 0, [run_started()]))
            assert isinstance(started, list)  # committed meanwhile, by a transaction with a later id
            await event_store(caller).append(run_id, 1, envelopes(run_id, 1, [message()]))

    async with pool.acquire() as caller, tenant_transaction(caller, DEFAULT_TENANT_ID):
        retried = await event_store(caller).append(run_id, 1, envelopes(run_id, 1, [message()]))

    assert isinstance(retried, list) and [event.version for event in retried] == [2]
    assert await event_store(pool).head_version(run_id) == 2
