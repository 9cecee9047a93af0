"""Pools that skip asyncpg's reset query (the API's always, the workers' with PJS_DB_WORKER_LIGHT_RESET):
a release skips the reset query, not the rollback, and no tenant outlives its transaction."""

from __future__ import annotations

import asyncpg

from events.tenancy import DEFAULT_TENANT_ID, TENANT_SETTING, bind_tenant
from pjs.settings import Settings
from pjs.wiring import create_pool


async def _backend(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as connection:
        return int(await connection.fetchval("SELECT pg_backend_pid()"))


async def test_a_light_reset_pool_rolls_back_what_a_user_left_open(settings: Settings) -> None:
    light = settings.model_copy(update={"db_worker_light_reset": True})
    pool = await create_pool(light, min_size=1, max_size=1)
    try:
        connection = await pool.acquire()
        await connection.execute("BEGIN")
        await connection.execute("CREATE TEMPORARY TABLE left_open (n int)")
        await pool.release(connection)

        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            left = await again.fetchval("SELECT to_regclass('pg_temp.left_open')")
        assert left is None  # rolled back, not committed
    finally:
        await pool.close()


async def test_a_light_reset_keeps_the_connection_and_costs_no_reset_query(settings: Settings) -> None:
    light = settings.model_copy(update={"db_worker_light_reset": True})
    pool = await create_pool(light, min_size=1, max_size=1)
    try:
        first = await _backend(pool)
        async with pool.acquire() as connection:
            await connection.execute("SET application_name = 'light-reset-probe'")
        async with pool.acquire() as connection:
            kept = await connection.fetchval("SHOW application_name")
        second = await _backend(pool)
    finally:
        await pool.close()
    assert first == second
    assert kept == "light-reset-probe"  # what the full reset (RESET ALL) would have undone


async def test_an_api_pool_skips_the_reset_yet_never_carries_a_tenant_into_the_next_use(
    settings: Settings,
) -> None:
    # The API pool always skips the reset query: its sessions hold nothing but transaction-local state.
    pool = await create_pool(settings, min_size=1, max_size=1, api=True)
    try:
        first = await _backend(pool)
        async with pool.acquire() as connection, connection.transaction():
            await bind_tenant(connection, DEFAULT_TENANT_ID)
            await connection.execute("SET application_name = 'api-pool-probe'")
        async with pool.acquire() as connection:
            bound = await connection.fetchval("SELECT current_setting($1, true)", TENANT_SETTING)
            kept = await connection.fetchval("SHOW application_name")
        second = await _backend(pool)
    finally:
        await pool.close()
    assert first == second and kept == "api-pool-probe"  # no reset query ran
    assert not bound  # the tenant was bound for its transaction only
