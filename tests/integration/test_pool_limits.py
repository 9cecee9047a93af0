"""Postgres sessions cannot hang: a busy API pool answers 503 in bounded time, slow statements are stopped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from pjs.settings import Settings
from pjs.wiring import create_pool
from support.api import app_client


@pytest.fixture
async def small_api(
    settings: Settings, api_key: str
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Pool]]:
    """The API over a pool of two connections that waits at most half a second for one."""
    small = settings.model_copy(update={"api_pool_size": 2, "api_acquire_seconds": 0.5})
    async with app_client(small, api_key) as (client, app):
        yield client, app.state.resources.pool


async def test_an_exhausted_api_pool_answers_503_with_retry_after_then_recovers(
    small_api: tuple[httpx.AsyncClient, asyncpg.Pool],
) -> None:
    api, pool = small_api
    held = [await pool.acquire() for _ in range(2)]

    started = time.monotonic()
    busy = await api.get("/journeys")
    waited = time.monotonic() - started

    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "1"
    assert "busy" in busy.json()["message"]
    assert waited < 5  # bounded by the acquire wait, not by the holders
    for connection in held:
        await pool.release(connection)
    assert (await api.get("/journeys")).status_code == 200


async def test_a_statement_running_past_the_statement_timeout_is_cancelled(settings: Settings) -> None:
    pool = await create_pool(settings.model_copy(update={"db_statement_timeout_seconds": 0.2}), max_size=1)
    try:
        with pytest.raises(asyncpg.QueryCanceledError):
            await asyncio.wait_for(pool.fetchval("SELECT pg_sleep(30)"), 10)
        assert await pool.fetchval("SELECT 1") == 1  # the connection stays usable
    finally:
        await pool.close()


async def test_a_lock_wait_past_the_lock_timeout_gives_up(settings: Settings) -> None:
    holder = await asyncpg.connect(settings.resolved_database_url())
    pool = await create_pool(settings.model_copy(update={"db_lock_timeout_seconds": 0.2}), max_size=1)
    try:
        await holder.execute("SELECT pg_advisory_lock(4242)")
        with pytest.raises(asyncpg.LockNotAvailableError):
            await asyncio.wait_for(pool.fetchval("SELECT pg_advisory_lock(4242)"), 10)
    finally:
        await pool.close()
        await holder.close()


async def test_every_session_carries_timeouts_and_keepalives_and_admin_work_lifts_the_timeouts(
    settings: Settings,
) -> None:
    names = (
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
        "tcp_keepalives_idle",
    )
    query = "SELECT " + ", ".join(f"current_setting('{name}')" for name in names)
    pool = await create_pool(settings, max_size=1)
    admin = await create_pool(settings, max_size=1, admin=True)
    try:
        assert tuple(await pool.fetchrow(query)) == ("30s", "10s", "1min", "30")
        assert tuple(await admin.fetchrow(query)) == ("0", "0", "1min", "30")
    finally:
        await pool.close()
        await admin.close()
