"""What the HTTP edge needs at run time: the pool, event store, journeys and a clock, opened in lifespan."""

from __future__ import annotations

from typing import TypeVar

import asyncpg
from fastapi import Request

from engine.clock import Clock, utc_now
from engine.journeys import PostgresJourneyRepository
from events.store import PostgresEventStore
from pjs import wiring
from pjs.settings import Settings

T = TypeVar("T")


class Resources:
    """Connections the routes share. Created unopened; the app's lifespan opens and closes them."""

    def __init__(self, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self._pool: asyncpg.Pool | None = None
        self._store: PostgresEventStore | None = None
        self._journeys: PostgresJourneyRepository | None = None

    async def open(self) -> None:
        self._pool = await wiring.create_pool(self.settings)
        self._store = wiring.event_store(self._pool)
        self._journeys = PostgresJourneyRepository(self._pool)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        self._pool, self._store, self._journeys = None, None, None

    @property
    def pool(self) -> asyncpg.Pool:
        return _opened(self._pool)

    @property
    def store(self) -> PostgresEventStore:
        return _opened(self._store)

    @property
    def journeys(self) -> PostgresJourneyRepository:
        return _opened(self._journeys)


def _opened(resource: T | None) -> T:
    if resource is None:
        raise RuntimeError("resources are not open: the app's lifespan has not started")
    return resource


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources
