"""Counting the rows of a table that statements read, to hold a statement to the rows it touches whatever
plan the session cached for it (a plan made while the table was empty is kept until the next ANALYZE)."""

from __future__ import annotations

import asyncpg

GENERIC_PLANS = "SET plan_cache_mode = force_generic_plan"
"""Plans every statement of the session once, at its first execution, as a plan cached for the session."""

_READ = "SELECT coalesce(sum(idx_tup_fetch + seq_tup_read), 0)::bigint FROM {view} WHERE relname = $1"


async def rows_read_in_transaction(connection: asyncpg.Connection, table: str) -> int:
    """Rows of `table` the transaction open on `connection` has read so far, by index or by scanning."""
    read: int = await connection.fetchval(_READ.format(view="pg_stat_xact_user_tables"), table)
    return read


async def rows_read(db: asyncpg.Connection | asyncpg.Pool, table: str) -> int:
    """Rows of `table` read so far in this database, by index or by scanning, counting the statements of
    `db` (a connection, or a pool of one) as soon as they end: its session's counts are flushed first."""
    await db.execute("SELECT pg_stat_force_next_flush()")  # flushed when the session goes idle after it
    read: int = await db.fetchval(_READ.format(view="pg_stat_user_tables"), table)
    return read
