"""Run write locks: the advisory lock an append holds on each run it writes, until its transaction ends."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from events.pg import Connection


def run_lock_key(run_id: UUID) -> int:
    """The advisory lock key of a run: its first 64 bits, as the SQL function run_lock_key computes it."""
    return int.from_bytes(run_id.bytes[:8], "big", signed=True)


async def lock_runs(connection: Connection, run_ids: Sequence[UUID]) -> None:
    """Take each run's write lock until the transaction ends, in key order (two batches never deadlock).

    With the lock held no other append can write the run between our head check and our insert, so
    concurrent appenders to one run (engine, delivery, timer, cancel) wait for each other instead of
    failing on the unique constraint and rolling a whole batch back.
    """
    keys = sorted({run_lock_key(run_id) for run_id in run_ids})
    await connection.execute("SELECT pg_advisory_xact_lock(key) FROM unnest($1::bigint[]) AS key", keys)
