"""Waiting on the database in tests."""

from __future__ import annotations

import asyncio

import asyncpg


async def settled(pool: asyncpg.Pool, seconds: float = 10) -> None:
    """Wait until every write transaction that began before now has ended.

    The gapless feed and the run listing serve only settled transactions; on a shared server another
    database's open transaction can hold them back for a moment.
    """
    horizon = await pool.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
    async with asyncio.timeout(seconds):
        while await pool.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint") < horizon:
            await asyncio.sleep(0.01)
