"""Holding runs' write locks from a test, as an append takes them, to make appends wait."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from events.pg import Connection
from events.run_locks import run_lock_key


async def lock_runs(connection: Connection, run_ids: Sequence[UUID]) -> None:
    """Take each run's write lock until the transaction ends, in key order, as the store's append does."""
    keys = sorted({run_lock_key(run_id) for run_id in run_ids})
    await connection.execute("SELECT pg_advisory_xact_lock(key) FROM unnest($1::bigint[]) AS key", keys)
