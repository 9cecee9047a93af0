"""What the store holds, counted in its tables: unlike the run listing, blind to no transaction horizon."""

from __future__ import annotations

import asyncpg


async def runs_in_store(pool: asyncpg.Pool) -> int:
    """Every run, settled or not: a run's status row is written with its first event."""
    return int(await pool.fetchval("SELECT count(*) FROM run_status"))


async def events_in_store(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM events"))


async def journey_versions_in_store(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM journeys"))
