"""Postgres sessions that cannot hang: server-side timeouts and TCP keepalives, bounded waits for a pool."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from events.errors import PoolExhausted

_CLIENT_MARGIN_SECONDS = 5.0
"""How much longer the client waits for a reply than the server lets a statement run."""


@dataclass(frozen=True)
class SessionLimits:
    """What Postgres enforces on every session we open; a zero timeout means none."""

    statement_timeout_seconds: float = 30.0
    lock_timeout_seconds: float = 10.0
    idle_in_transaction_seconds: float = 60.0
    keepalive_idle_seconds: int = 30
    keepalive_interval_seconds: int = 10
    keepalive_count: int = 3

    def for_admin_work(self) -> SessionLimits:
        """Migrations and projection rebuilds: long statements and waits on advisory locks are expected."""
        return replace(self, statement_timeout_seconds=0.0, lock_timeout_seconds=0.0)

    def server_settings(self) -> dict[str, str]:
        # The keepalives are the server's side: it notices a vanished client (and frees its locks) in about
        # idle + interval * count seconds instead of the kernel's two hours.
        return {
            "statement_timeout": _milliseconds(self.statement_timeout_seconds),
            "lock_timeout": _milliseconds(self.lock_timeout_seconds),
            "idle_in_transaction_session_timeout": _milliseconds(self.idle_in_transaction_seconds),
            "tcp_keepalives_idle": str(self.keepalive_idle_seconds),
            "tcp_keepalives_interval": str(self.keepalive_interval_seconds),
            "tcp_keepalives_count": str(self.keepalive_count),
        }

    def command_timeout(self) -> float | None:
        """The client's own bound on a reply, so a server that went silent cannot hang us either."""
        if self.statement_timeout_seconds <= 0:
            return None
        return self.statement_timeout_seconds + _CLIENT_MARGIN_SECONDS


def _milliseconds(seconds: float) -> str:
    return str(round(seconds * 1000))


class BoundedPool(asyncpg.Pool):
    """A pool whose every acquire (`async with`, `await`, or `pool.fetch` and friends) waits at most
    `acquire_timeout` seconds for a free connection, then raises `PoolExhausted`."""

    def __init__(self, *args: Any, acquire_timeout: float | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout = acquire_timeout

    # asyncpg sends every way of acquiring through `_acquire`; tests/integration/test_pool_limits.py pins it.
    async def _acquire(self, timeout: float | None) -> PoolConnectionProxy:  # noqa: ASYNC109 (overrides asyncpg)
        try:
            proxy: PoolConnectionProxy = await super()._acquire(  # type: ignore[misc]
                timeout if timeout is not None else self.acquire_timeout
            )
        except TimeoutError as error:
            raise PoolExhausted("no database connection came free in time") from error
        return proxy


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing beyond asyncpg's own rollback of an open transaction."""


async def open_pool(
    database_url: str,
    limits: SessionLimits,
    *,
    min_size: int = 1,
    max_size: int = 10,
    acquire_timeout: float | None = None,
    session_reset: bool = True,
) -> asyncpg.Pool:
    """A started pool whose sessions carry `limits`; `acquire_timeout=None` waits for a connection forever.

    `session_reset=False` skips asyncpg's reset query (advisory unlock, UNLISTEN, RESET ALL: a round trip
    on every release) for pools whose users keep no session state: transaction-local settings and locks
    only. An open transaction is still rolled back on release.
    """
    pool = BoundedPool(
        database_url,
        acquire_timeout=acquire_timeout,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        server_settings=limits.server_settings(),
        command_timeout=limits.command_timeout(),
        reset=None if session_reset else _keep_session,
    )
    await pool
    return pool


async def connect(database_url: str, limits: SessionLimits) -> asyncpg.Connection:
    """One connection outside any pool, with `limits`."""
    connection: asyncpg.Connection = await asyncpg.connect(
        database_url, server_settings=limits.server_settings(), command_timeout=limits.command_timeout()
    )
    return connection
