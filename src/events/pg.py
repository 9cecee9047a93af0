"""Type aliases for asyncpg handles, so functions accept a pooled or a plain connection alike, and the
transactions every writer opens on them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias, TypeGuard
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from events.tenancy import TENANT_SETTING

Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""A connection, plain or borrowed from a pool: what runs inside a transaction."""

Queryable: TypeAlias = asyncpg.Connection | PoolConnectionProxy | asyncpg.Pool
"""Anything that can run a single statement."""

_SAVEPOINT = "pjs_nested"  # one name serves any depth: Postgres rolls back to, or releases, the newest


class TransactionAborted(RuntimeError):
    """A transaction reached its end aborted: an error inside it was caught and the work went on. Postgres
    answers such a COMMIT with a rollback, so nothing of it was stored; the caller must not say it was."""


def in_transaction(db: Queryable) -> TypeGuard[Connection]:
    """Whether `db` is a connection with a transaction open on it (a pool never is)."""
    return not isinstance(db, asyncpg.Pool) and db.is_in_transaction()


@asynccontextmanager
async def transaction(db: Queryable) -> AsyncIterator[Connection]:
    """A transaction on a connection of the pool, or on a connection handed in; one already inside a
    transaction (the API's, bound to a tenant) gets a savepoint, so a retry after a lost race can go on."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as connection, connection.transaction():
            yield connection
    elif db.is_in_transaction():
        async with _savepoint(db):
            yield db
    else:
        async with db.transaction():
            yield db


_GENERIC_PLANS_LOCALLY = "SET LOCAL plan_cache_mode = force_generic_plan"


@asynccontextmanager
async def begun(connection: Connection, begin: str) -> AsyncIterator[Connection]:
    """A transaction opened by `begin` (BEGIN and the statements that should share its round trip, as one
    text without parameters), committed on leaving and rolled back if the body raised.

    asyncpg's `transaction()` sends BEGIN alone, and refuses to open inside a transaction begun this way:
    code within nests with `transaction()` above, which makes its savepoints by hand.
    """
    await connection.execute(begin)
    try:
        yield connection
    except BaseException:
        await _quietly(connection, "ROLLBACK")
        raise
    if await connection.execute("COMMIT") != "COMMIT":
        raise TransactionAborted("the transaction was aborted by an error its work went on after")


@asynccontextmanager
async def tenant_transaction(
    connection: Connection, tenant_id: UUID, *, generic_plans: bool = False
) -> AsyncIterator[Connection]:
    """A transaction on `connection` bound to `tenant_id` from its start (as `tenancy.bind_tenant` binds
    one): BEGIN and the binding share one round trip, a quarter of a short request's.

    A statement sent with BEGIN cannot take parameters, so the tenant goes into its text: the canonical form
    of a UUID, hex digits and dashes alone.

    `generic_plans` plans each statement of the transaction once per session, for small batches keyed by
    arrays of ids (a few triggers): a custom plan estimates `unnest($1)` at the array's length, a generic
    one at 100 rows, so for small arrays Postgres finds the generic plan costlier and plans such a
    statement again on every execution, inside `append_events` too.
    """
    if not isinstance(tenant_id, UUID):
        raise TypeError(f"a tenant id is a UUID, not {type(tenant_id).__name__}")
    begin = f"BEGIN; SELECT set_config('{TENANT_SETTING}', '{tenant_id}', true)"
    if generic_plans:
        begin += f"; {_GENERIC_PLANS_LOCALLY}"
    async with begun(connection, begin):
        yield connection


@asynccontextmanager
async def _savepoint(connection: Connection) -> AsyncIterator[None]:
    await connection.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        yield
    except BaseException:
        await _quietly(connection, f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        raise
    await connection.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")


async def _quietly(connection: Connection, statement: str) -> None:
    # The body's error is the one to raise. A rollback that fails too (the connection lost, or busy with a
    # cancelled query) leaves the transaction to the pool, which rolls back or drops the connection.
    with contextlib.suppress(Exception):
        await connection.execute(statement)
