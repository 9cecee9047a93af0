"""The one place that builds pools, the event store and producers from settings (nothing at import time)."""

from __future__ import annotations

import asyncpg

from events.store import PostgresEventStore
from pjs.settings import Settings
from projections.inline import INLINE_PROJECTIONS


async def create_pool(settings: Settings, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(settings.resolved_database_url(), min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


def event_store(pool: asyncpg.Pool) -> PostgresEventStore:
    """The event store with every inline projection (run status, delays) in its append transaction."""
    return PostgresEventStore(pool, INLINE_PROJECTIONS)
