"""Applies the numbered SQL migrations in events/sql/ once each, in order, tracked in schema_migrations."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import resources

import asyncpg

from events.grants import Duty, grant_to_application
from events.pg import Connection

MIGRATION_LOCK_KEY = 7_311_001  # advisory lock: concurrent starters apply migrations one at a time
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """The migrations shipped with the code, in order. Released files are never edited; add a new one."""
    found = []
    for entry in resources.files("events").joinpath("sql").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    return sorted(found, key=lambda migration: migration.number)


async def pending_migrations(connection: Connection) -> list[Migration]:
    """The migrations shipped with the code that this database has not applied (all before the first)."""
    if await connection.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return available_migrations()
    done = {row["number"] for row in await connection.fetch("SELECT number FROM schema_migrations")}
    return [migration for migration in available_migrations() if migration.number not in done]


async def migrate(
    connection: asyncpg.Connection, grantees: Mapping[str, Collection[Duty]] | None = None
) -> list[Migration]:
    """Apply every migration not yet applied; returns those applied by this call. Idempotent.

    Each of `grantees` (the API's role, the workers') is then granted what its duties need
    (`events.grants`), under the same lock: concurrent GRANTs on one object fail with "tuple concurrently
    updated".
    """
    await connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " number integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    applied: list[Migration] = []
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        for migration in await pending_migrations(connection):
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (number, name) VALUES ($1, $2)",
                    migration.number,
                    migration.name,
                )
            applied.append(migration)
        for role, duties in (grantees or {}).items():
            await grant_to_application(connection, role, duties)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied
