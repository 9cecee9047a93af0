"""Type aliases for asyncpg handles, so functions accept a pooled or a plain connection alike."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""A connection, plain or borrowed from a pool: what runs inside a transaction."""

Queryable: TypeAlias = asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool
"""Anything that can run a single statement."""
