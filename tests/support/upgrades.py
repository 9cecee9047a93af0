"""A database of its own migrated up to just before a given migration: to test what an upgrade keeps."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from events.schema import available_migrations
from support.endpoints import Endpoints


@asynccontextmanager
async def migrated_before(endpoints: Endpoints, upgrade: int) -> AsyncIterator[asyncpg.Connection]:
    """The schema owner on a new database with every migration numbered below `upgrade` applied."""
    name = f"pjs_upgrade_{uuid.uuid4().hex[:12]}"
    base, _, _ = endpoints.migration_database_url.rpartition("/")
    owner = endpoints.migration_database_url.split("//")[1].split(":")[0]
    admin = await asyncpg.connect(endpoints.admin_database_url)
    await admin.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    connection = await asyncpg.connect(f"{base}/{name}")
    try:
        await connection.execute(
            "CREATE TABLE schema_migrations (number integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in (m for m in available_migrations() if m.number < upgrade):
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations (number, name) VALUES ($1, $2)",
                migration.number,
                migration.name,
            )
        yield connection
    finally:
        await connection.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def from_on(upgrade: int) -> list[int]:
    """The numbers of the migrations an upgrade from just before `upgrade` applies."""
    return [migration.number for migration in available_migrations() if migration.number >= upgrade]
