"""A small group of triggers plans its statements once per session, not on every execution.

Postgres estimates `unnest($1)` at the array's length in a custom plan and at 100 rows in a generic one, so
for small batches the generic plan always looks costlier and a statement is planned again on every call.
A transaction of up to `GENERIC_PLANS_UP_TO` triggers forces generic plans; every other keeps Postgres's
choice (large batches run faster on plans made for them, listings filter on optional parameters).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events.pg import tenant_transaction
from events.tenancy import DEFAULT_TENANT_ID
from pjs.settings import Settings
from pjs.wiring import create_pool

# The shape of the store's head lookup: a lateral index lookup per run id of an array.
HEADS = """
    SELECT r.run_id, h.version
    FROM unnest($1::uuid[]) WITH ORDINALITY AS r(run_id, ord)
    LEFT JOIN LATERAL (
        SELECT e.version FROM events e WHERE e.run_id = r.run_id ORDER BY e.version DESC LIMIT 1
    ) h ON true
"""
RUNS = 12  # past the five custom plans Postgres makes before it first weighs a generic one


async def plans_made(connection: asyncpg.Connection, statement: str) -> tuple[int, int]:
    """(generic, custom) plans this session made for `statement` so far, after RUNS executions."""
    for _ in range(RUNS):
        await connection.fetch(statement, [uuid.uuid4()])
    row = await connection.fetchrow(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1", statement
    )
    assert row is not None, "the statement was not kept prepared"
    return row["generic_plans"], row["custom_plans"]


@pytest.fixture
async def api_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings, max_size=1, api=True)
    yield pool
    await pool.close()


async def test_a_transaction_left_to_postgres_plans_for_the_values_at_hand(api_pool: asyncpg.Pool) -> None:
    # The trap a small trigger group's transaction avoids.
    async with api_pool.acquire() as connection, tenant_transaction(connection, DEFAULT_TENANT_ID):
        generic, custom = await plans_made(connection, HEADS)

    assert custom == RUNS
    assert generic == 0


async def test_a_transaction_begun_for_generic_plans_plans_once_and_leaves_the_session_as_it_was(
    api_pool: asyncpg.Pool,
) -> None:
    async with api_pool.acquire() as connection:
        async with tenant_transaction(connection, DEFAULT_TENANT_ID, generic_plans=True):
            generic, custom = await plans_made(connection, HEADS)
        after = await connection.fetchval("SHOW plan_cache_mode")

    assert (generic, custom) == (RUNS, 0)
    assert after == "auto"
