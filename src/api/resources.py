"""What the HTTP edge needs at run time: a Postgres pool and the Kafka address, opened in lifespan."""

from __future__ import annotations

import asyncpg
from fastapi import Request

from pjs.settings import Settings


class Resources:
    """Connections the routes share. Created unopened; the app's lifespan opens and closes them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(self.settings.resolved_database_url(), min_size=1, max_size=10)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("resources are not open: the app's lifespan has not started")
        return self._pool


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources
