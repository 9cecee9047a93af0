"""Rebuild a projection from the event store's gapless feed into fresh tables, then swap them in atomically.

The live tables keep serving (and, for inline projections, keep being written) during the rebuild. The
swap locks the live tables against writers, applies the events committed since the rebuild's last page,
and renames the fresh tables into place in one transaction: readers see the old rows, then the new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import asyncpg

from events.feed import FEED_START, FeedPosition, read_feed
from events.pg import Connection
from events.projection import Projection

REBUILD_SUFFIX = "__rebuild"
RETIRED_SUFFIX = "__retired"
PAGE_SIZE = 10_000  # events per page: two pages (one read ahead) are in memory at a time
_GC_THRESHOLD = 1_000_000  # tracked objects (net of those freed): well above the pages in memory

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
    """Rebuild `projection` into fresh tables and swap them in. Uses two of the pool's connections."""
    fresh = {table: f"{table}{REBUILD_SUFFIX}" for table in projection.tables}
    async with pool.acquire() as connection:
        await _create_fresh_tables(connection, fresh)
        async with pool.acquire() as reader:
            with _fewer_collections():
                position, applied = await _fill(connection, reader, projection, fresh, progress)
        async with connection.transaction():
            caught_up = await _catch_up_and_swap(connection, projection, fresh, position)
    progress(caught_up)
    return RebuildResult(projection.name, applied + caught_up)


async def _create_fresh_tables(connection: Connection, fresh: dict[str, str]) -> None:
    for live, rebuilt in fresh.items():
        await connection.execute(f"DROP TABLE IF EXISTS {rebuilt}")
        await connection.execute(f"CREATE TABLE {rebuilt} (LIKE {live} INCLUDING ALL)")
        # LIKE copies neither row-level security nor privileges: the rebuilt table gets the live one's.
        await connection.execute("SELECT scope_to_tenant($1::regclass)", rebuilt)
        await connection.execute("SELECT copy_privileges($1::regclass, $2::regclass)", live, rebuilt)


async def _fill(
    connection: Connection,
    reader: Connection,
    projection: Projection,
    fresh: dict[str, str],
    progress: Progress,
) -> tuple[FeedPosition, int]:
    """Apply the feed page by page; `reader` reads (and decodes) the next page while this one is applied.

    The fresh tables serve nobody until the swap, so their pages commit without waiting for the WAL
    flush: a crash loses only a rebuild that is started over anyway, and the swap's own commit is
    synchronous, which flushes everything written before it too.
    """
    position, applied = FEED_START, 0
    # Session-wide until reset below; on failure the pool's reset on release (RESET ALL) undoes it.
    await connection.execute("SET synchronous_commit = off")
    upcoming = asyncio.ensure_future(read_feed(reader, position, PAGE_SIZE))
    try:
        while True:
            page = await upcoming
            if not page.events:
                break
            upcoming = asyncio.ensure_future(read_feed(reader, page.last, PAGE_SIZE))
            async with connection.transaction():
                await projection.apply(connection, page.events, fresh)
            position, applied = page.last, applied + len(page.events)
            progress(len(page.events))
    finally:  # on failure a read may be in flight: end it (and retrieve its outcome) before `reader` goes
        upcoming.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await upcoming
    await connection.execute("RESET synchronous_commit")
    return position, applied


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector only when something other than pages of events piles up.

    The collector runs when the tracked objects allocated and not yet freed pass a threshold (700 by
    default). The pages a fill holds (the one applied, the one read ahead, their rows) are about 200,000
    such objects, all alive until their page is applied, and every collection re-scanned them in vain: at
    700 a third of a replay's CPU, at 100,000 still about 3 µs per event. The events form no cycles
    (reference counting frees each page), so at 1,000,000 the collector stays idle unless something else
    piles up, which it then still frees. The thresholds are restored afterwards.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


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
