"""Type aliases for asyncpg handles, so functions accept a pooled or a plain connection alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""A connection, plain or borrowed from a pool: what runs inside a transaction."""

Queryable: TypeAlias = asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool
"""Anything that can run a single statement."""


@asynccontextmanager
async def transaction(db: Queryable) -> AsyncIterator[Connection]:
    """A transaction on a connection of the pool, or on a connection handed in; one already inside a
    transaction (the API's, bound to a tenant) gets a savepoint, so a retry after a lost race can go on."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as connection, connection.transaction():
            yield connection
    else:
        async with db.transaction():
            yield db
