"""Rebuild a projection from the event store's gapless feed into fresh tables, then swap them in atomically.

The live tables keep serving (and, for inline projections, keep being written) during the rebuild. The
swap locks the live tables against writers, applies the events committed since the rebuild's last page,
and renames the fresh tables into place in one transaction: readers see the old rows, then the new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from events.feed import FEED_START, FeedPosition, read_feed
from events.pg import Connection
from projections.catalogue import Projection

REBUILD_SUFFIX = "__rebuild"
RETIRED_SUFFIX = "__retired"
PAGE_SIZE = 5000

Progress = Callable[[int], None]
"""Called with the number of events just applied."""


@dataclass(frozen=True)
class RebuildResult:
    projection: str
    events: int


async def count_events(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM events"))


async def rebuild(
    pool: asyncpg.Pool, projection: Projection, progress: Progress = lambda _: None
) -> RebuildResult:
    fresh = {table: f"{table}{REBUILD_SUFFIX}" for table in projection.tables}
    async with pool.acquire() as connection:
        await _create_fresh_tables(connection, fresh)
        position, applied = await _fill(connection, projection, fresh, progress)
        async with connection.transaction():
            caught_up = await _catch_up_and_swap(connection, projection, fresh, position)
    progress(caught_up)
    return RebuildResult(projection.name, applied + caught_up)


async def _create_fresh_tables(connection: Connection, fresh: dict[str, str]) -> None:
    for live, rebuilt in fresh.items():
        await connection.execute(f"DROP TABLE IF EXISTS {rebuilt}")
        await connection.execute(f"CREATE TABLE {rebuilt} (LIKE {live} INCLUDING ALL)")


async def _fill(
    connection: Connection, projection: Projection, fresh: dict[str, str], progress: Progress
) -> tuple[FeedPosition, int]:
    position, applied = FEED_START, 0
    while True:
        page = await read_feed(connection, position, PAGE_SIZE)
        if not page.events:
            return position, applied
        async with connection.transaction():
            await projection.apply(connection, page.events, fresh)
        position, applied = page.last, applied + len(page.events)
        progress(len(page.events))


async def _catch_up_and_swap(
    connection: Connection, projection: Projection, fresh: dict[str, str], position: FeedPosition
) -> int:
    # SHARE ROW EXCLUSIVE waits for every open writer of the live tables and keeps new ones out;
    # readers go on. With no writer inside, every visible event is final: read without the horizon.
    live = ", ".join(fresh)
    await connection.execute(f"LOCK TABLE {live} IN SHARE ROW EXCLUSIVE MODE")
    pending = []
    while True:
        page = await read_feed(connection, position, PAGE_SIZE, writers_locked_out=True)
        if not page.events:
            break
        pending.extend(page.events)
        position = page.last
    await projection.apply(connection, pending, fresh)
    for table, rebuilt in fresh.items():
        await connection.execute(f"ALTER TABLE {table} RENAME TO {table}{RETIRED_SUFFIX}")
        await connection.execute(f"ALTER TABLE {rebuilt} RENAME TO {table}")
        await connection.execute(f"DROP TABLE {table}{RETIRED_SUFFIX}")
    return len(pending)
