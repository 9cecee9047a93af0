"""Run write locks: the advisory lock an append holds on each run it writes, until its transaction ends."""

from __future__ import annotations

from uuid import UUID


def run_lock_key(run_id: UUID) -> int:
    """The advisory lock key of a run: its first 64 bits, as the SQL function run_lock_key computes it."""
    return int.from_bytes(run_id.bytes[:8], "big", signed=True)
