"""Migrations as a job of their own (PJS_MIGRATE_AT_START=false): a role then starts without the schema
owner's DSN, and refuses, in one line, a database that lacks a migration of its release."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from events.schema import available_migrations, pending_migrations
from pjs.settings import Settings
from support.ports import free_port_below_ephemeral_range
from support.roles import RoleProcess, eventually, only_failure_line


def _nowhere(url: str) -> str:
    """`url` with a wrong password at a port nothing listens on: any use of it would fail."""
    parts = urlsplit(url)
    port = free_port_below_ephemeral_range()
    return parts._replace(netloc=f"{parts.username}:not-the-password@127.0.0.1:{port}").geturl()


def _not_migrating(settings: Settings) -> Settings:
    owner = _nowhere(settings.resolved_migration_database_url())
    return settings.model_copy(update={"migrate_at_start": False, "migration_database_url": owner})


async def test_a_role_told_not_to_migrate_starts_and_runs_without_the_schema_owners_dsn(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    log_file = tmp_path / "timer.log"
    role = RoleProcess("timer", _not_migrating(settings), log_file=log_file)
    try:

        async def beating() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM role_heartbeats WHERE pid = $1", role.pid))

        assert await eventually(beating, seconds=30, every=0.2)
        exit_code, _ = await asyncio.to_thread(role.terminate_and_time, 30)
    finally:
        role.stop()

    assert exit_code == 0
    log = log_file.read_text()
    assert "migrating" not in log and "role timer stopped" in log


async def test_a_role_told_not_to_migrate_refuses_a_database_that_lacks_a_migration(
    settings: Settings, migration_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    latest = available_migrations()[-1]
    await migration_pool.execute("DELETE FROM schema_migrations WHERE number = $1", latest.number)
    log_file = tmp_path / "timer.log"

    role = RoleProcess("timer", _not_migrating(settings), log_file=log_file)

    assert await asyncio.to_thread(role.wait, 60) == 1
    failed = only_failure_line(log_file, "timer")
    assert f"lacks 1 migration(s) of this release ({latest.number:04d}_{latest.name})" in failed
    assert "run `pjs migrate` with PJS_MIGRATION_DATABASE_URL first" in failed
    assert (
        await migration_pool.fetchval(
            "SELECT count(*) FROM schema_migrations WHERE number = $1", latest.number
        )
        == 0
    )  # it did not migrate


async def test_a_database_never_migrated_lacks_every_migration(migration_pool: asyncpg.Pool) -> None:
    async with migration_pool.acquire() as connection:
        await connection.execute("CREATE SCHEMA never_migrated; SET search_path = never_migrated")
        try:
            assert await pending_migrations(connection) == available_migrations()
        finally:
            await connection.execute("RESET search_path")
