"""A replay of every rebuildable projection compared with the live tables it replaces (roles stopped)."""

from __future__ import annotations

import asyncpg

from events.pg import Queryable
from pjs.wiring import REBUILDABLE
from projections.replay import rebuild

_SNAPSHOT = "__faults_live"


async def replay_differences(migration_database_url: str) -> list[str]:
    """Snapshot each live table, rebuild its projection from the feed, list the rows that differ.

    As the schema owner: the snapshots and the rebuild's fresh tables are DDL, which pjs_app may not do.
    """
    pool = await asyncpg.create_pool(migration_database_url, min_size=2, max_size=2)
    assert pool is not None
    found: list[str] = []
    try:
        for name, projection in REBUILDABLE.items():
            async with pool.acquire() as connection:
                for table in projection.tables:
                    await connection.execute(f"DROP TABLE IF EXISTS {table}{_SNAPSHOT}")
                    await connection.execute(f"CREATE TABLE {table}{_SNAPSHOT} AS TABLE {table}")
            await rebuild(pool, projection)
            async with pool.acquire() as connection:
                for table in projection.tables:
                    differing = await _differing_rows(connection, table)
                    if differing:
                        found.append(
                            f"replay: {name} table {table}: {differing} rows differ from the live one"
                        )
                    await connection.execute(f"DROP TABLE {table}{_SNAPSHOT}")
    finally:
        await pool.close()
    return found


async def _differing_rows(connection: Queryable, table: str) -> int:
    live = f"{table}{_SNAPSHOT}"
    count = await connection.fetchval(
        f"SELECT (SELECT count(*) FROM (TABLE {live} EXCEPT ALL TABLE {table}) AS a)"
        f" + (SELECT count(*) FROM (TABLE {table} EXCEPT ALL TABLE {live}) AS b)"
    )
    return int(count)
