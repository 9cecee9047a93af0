"""A role's heartbeat outlives Postgres trouble: a failed write is logged and the next beat writes again."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from pjs.heartbeat import heartbeat_writer
from pjs.settings import Settings
from support.endpoints import Endpoints
from support.roles import eventually, running_tasks
from support.stalls import beating_fast


async def test_the_heartbeat_survives_its_table_going_away_and_its_connection_dropping(
    settings: Settings,
    pool: asyncpg.Pool,
    migration_pool: asyncpg.Pool,
    endpoints: Endpoints,
    test_database: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pjs.heartbeat")
    writer = heartbeat_writer(["timer"], beating_fast(settings))
    try:
        async with running_tasks(writer.run):
            await eventually(lambda: _fresh(pool), seconds=10)

            await migration_pool.execute("ALTER TABLE role_heartbeats RENAME TO role_heartbeats_away")
            try:
                await eventually(lambda: _logged(caplog, "(UndefinedTableError), attempt 1"), seconds=10)
            finally:
                await migration_pool.execute("ALTER TABLE role_heartbeats_away RENAME TO role_heartbeats")
            await eventually(lambda: _logged(caplog, "done after"), seconds=10)
            written = writer.written

            dropped = await _heartbeat_backends(endpoints, test_database, terminate=True)
            await eventually(lambda: _reconnected(endpoints, test_database, dropped), seconds=10)
            await eventually(lambda: _fresh(pool), seconds=10)
            assert writer.written > written
    finally:
        await writer.close()


async def _fresh(pool: asyncpg.Pool) -> bool:
    """A heartbeat row written within the last half second."""
    return bool(
        await pool.fetchval("SELECT count(*) FROM role_heartbeats WHERE seen_at > now() - interval '0.5 s'")
    )


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(
        record.name == "pjs.heartbeat" and record.levelno >= logging.INFO and text in record.getMessage()
        for record in caplog.records
    )


async def _heartbeat_backends(endpoints: Endpoints, database: str, *, terminate: bool = False) -> set[int]:
    """The server pids of the connections that wrote heartbeats last; `terminate`: drop them as well."""
    admin = await asyncpg.connect(f"{endpoints.admin_database_url.rpartition('/')[0]}/{database}")
    try:
        rows = await admin.fetch(
            "SELECT pid, CASE WHEN $2 THEN pg_terminate_backend(pid) END FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid() AND query LIKE '%INSERT INTO role_heartbeats%'",
            database,
            terminate,
        )
    finally:
        await admin.close()
    return {row["pid"] for row in rows}


async def _reconnected(endpoints: Endpoints, database: str, dropped: set[int]) -> bool:
    assert dropped
    return bool(await _heartbeat_backends(endpoints, database) - dropped)
