"""Applies the numbered SQL migrations in events/sql/ once each, in order, tracked in schema_migrations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import asyncpg

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


async def migrate(connection: asyncpg.Connection, application_roles: Sequence[str] = ()) -> list[Migration]:
    """Apply every migration not yet applied; returns those applied by this call. Idempotent.

    `application_roles` (the API's, the workers') are then granted their DML (`grant_to_application`), under
    the same lock: concurrent GRANTs on one object fail with "tuple concurrently updated".
    """
    await connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " number integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    applied: list[Migration] = []
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        done = {row["number"] for row in await connection.fetch("SELECT number FROM schema_migrations")}
        for migration in available_migrations():
            if migration.number in done:
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (number, name) VALUES ($1, $2)",
                    migration.number,
                    migration.name,
                )
            applied.append(migration)
        for role in application_roles:
            await grant_to_application(connection, role)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied


# Append-only tables: the application may add rows and read them, never change or remove one.
_APPEND_ONLY = ("events", "audit_log")


async def grant_to_application(connection: asyncpg.Connection, role: str) -> None:
    """Give `role` the DML it needs on every table, now and for tables created later by this connection's
    role (the schema owner), and nothing more: it owns nothing, so it can run no DDL and disable no trigger.

    Idempotent; run after every migration. Grants and default privileges live in the database, so a
    database copied from this one as a template keeps them.
    """
    grantee = '"' + role.replace('"', '""') + '"'
    async with connection.transaction():
        await connection.execute(
            f"""
            GRANT USAGE ON SCHEMA public TO {grantee};
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {grantee};
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {grantee};
            ALTER DEFAULT PRIVILEGES IN SCHEMA public
                GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {grantee};
            ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {grantee};
            REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM {grantee};
            """
        )
        for table in _APPEND_ONLY:
            await connection.execute(f"REVOKE UPDATE, DELETE ON {table} FROM {grantee}")
