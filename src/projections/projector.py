"""The projector group: applies run events to the asynchronous read models, one transaction per batch.

Its offsets live in Postgres (`events.offsets.PostgresOffsets`), saved in the same transaction as the rows
they cover, and the consumer seeks to them on every assignment: a crash never applies a batch twice or skips
one. The read models also dedupe by (run id, version), which covers the relay's re-publications.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg

from events.consumer_group import ConsumedBatch, ConsumerLoop
from events.dead_letters import PostgresDeadLetters
from events.group_config import GroupConfig
from events.offsets import PostgresOffsets
from events.projection import Projection
from projections.read_models import READ_MODELS


class Projector:
    """Run with `await projector.run(stop)`; `applied` counts the events it has applied so far."""

    def __init__(
        self, config: GroupConfig, pool: asyncpg.Pool, projections: Sequence[Projection] = READ_MODELS
    ) -> None:
        self._pool = pool
        self._projections = tuple(projections)
        self._offsets = PostgresOffsets(pool, config.group)
        self._loop = ConsumerLoop(config, self.apply, self._offsets, PostgresDeadLetters(pool))
        self.applied = 0

    async def run(self, stop: asyncio.Event) -> None:
        await self._loop.run(stop)

    async def apply(self, batch: ConsumedBatch) -> None:
        """Apply one consumed batch to every projection and store its offsets, in one transaction."""
        async with self._pool.acquire() as connection, connection.transaction():
            for projection in self._projections:
                await projection.apply(connection, batch.events, projection.live_tables())
            await self._offsets.save(connection, batch.next_offsets)
        self.applied += len(batch.events)
