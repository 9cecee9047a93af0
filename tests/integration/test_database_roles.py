"""What each database role may do: the API's reads keys and tenants but never issues or changes one, the
workers' never touches them, and neither writes a table only the other side writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from urllib.parse import urlsplit
from uuid import uuid4

import asyncpg
import pytest

from api.api_keys import ALL_SCOPES, parse_key
from api.key_store import create_key, create_tenant, principal_for
from events.grants import TABLES
from pjs.roles import apply_migrations
from pjs.settings import Settings
from pjs.wiring import REBUILDABLE
from projections.replay import rebuild
from support.auth import issue_test_key


@asynccontextmanager
async def _connected(url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def as_api(api_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    async with _connected(api_database_url) as connection:
        yield connection


@pytest.fixture
async def as_workers(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    async with _connected(database_url) as connection:
        yield connection


async def test_the_apis_role_can_neither_issue_nor_change_a_key_or_a_tenant(
    as_api: asyncpg.Connection, migration_database_url: str
) -> None:
    key = await issue_test_key(migration_database_url, tenant="default")  # as `pjs keys create` does
    presented = parse_key(key)
    assert presented is not None
    other_tenant = await as_api.fetchval("SELECT tenant_id FROM tenants WHERE name = 'default'")

    refused = [
        lambda: create_tenant(as_api, "minted-by-the-api", by="operator:tests"),
        lambda: create_key(as_api, "default", ALL_SCOPES, by="operator:tests"),
        lambda: as_api.execute("UPDATE api_keys SET scopes = '{admin}' WHERE key_id = $1", presented.key_id),
        lambda: as_api.execute("UPDATE api_keys SET revoked_at = NULL WHERE key_id = $1", presented.key_id),
        lambda: as_api.execute("UPDATE api_keys SET tenant_id = $1", other_tenant),
        lambda: as_api.execute("DELETE FROM api_keys"),
        lambda: as_api.execute("UPDATE tenants SET name = 'renamed'"),
        lambda: as_api.execute("DELETE FROM tenants"),
    ]
    for attempt in refused:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await attempt()

    # What the API does need: look the key up and note when it was last used.
    principal = await principal_for(as_api, presented)
    assert principal is not None and principal.tenant_id == other_tenant
    used = await as_api.fetchval("SELECT last_used_at FROM api_keys WHERE key_id = $1", presented.key_id)
    assert used is not None


async def test_the_apis_role_can_neither_backdate_a_run_explorer_session_nor_make_one_last_past_a_week(
    as_api: asyncpg.Connection, migration_database_url: str
) -> None:
    presented = parse_key(await issue_test_key(migration_database_url))
    assert presented is not None
    insert = "INSERT INTO ui_sessions (session_hash, key_id, expires_at{}) VALUES ($1, $2, now() + $3{})"
    week = timedelta(days=7)

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await as_api.execute(insert.format(", created_at", ", now()"), b"x", presented.key_id, week)
    with pytest.raises(asyncpg.CheckViolationError):
        await as_api.execute(insert.format("", ""), b"y", presented.key_id, week + timedelta(hours=1))
    await as_api.execute(insert.format("", ""), b"z", presented.key_id, week)  # the longest sign-in
    assert await as_api.fetchval("SELECT count(*) FROM ui_sessions") == 1


async def test_the_workers_role_cannot_read_keys_or_sessions_nor_write_tenants(
    as_workers: asyncpg.Connection,
) -> None:
    refused = [
        "SELECT count(*) FROM api_keys",
        "SELECT count(*) FROM ui_sessions",
        "INSERT INTO tenants (tenant_id, name) VALUES (gen_random_uuid(), 'minted-by-a-worker')",
        "UPDATE tenants SET name = name",
    ]
    for statement in refused:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await as_workers.execute(statement)
    assert await as_workers.fetchval("SELECT count(*) FROM tenants") >= 1  # `pjs journeys list` names them


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journeys SET name = name",
        "DELETE FROM journeys",
        "INSERT INTO run_timeline (run_id, version, position, type, recorded_at, data)"
        " VALUES ($1, 1, 1, 'x', now(), '{}')",
        "DELETE FROM journey_stats",
        "DELETE FROM journey_stats_progress",
        "UPDATE dead_letters SET status = 'retried'",
        "DELETE FROM parked_events",
        "INSERT INTO feed_checkpoints (consumer) VALUES ('relay')",
        "DELETE FROM projector_offsets",
    ],
)
async def test_the_apis_role_cannot_write_what_only_the_workers_write(
    as_api: asyncpg.Connection, statement: str
) -> None:
    arguments = (uuid4(),) if "$1" in statement else ()
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await as_api.execute(statement, *arguments)


async def test_every_table_says_what_the_api_and_the_workers_may_do_on_it(
    as_workers: asyncpg.Connection,
) -> None:
    tables = {
        row["tablename"]
        for row in await as_workers.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert tables - TABLES.keys() == set(), "name each new table in events/grants.py TABLES"


async def test_a_rebuilt_projection_keeps_what_each_role_may_do_on_its_tables(
    migration_pool: asyncpg.Pool, api_database_url: str
) -> None:
    api_role = urlsplit(api_database_url).username
    before = await _privileges(migration_pool)
    assert (api_role, "run_timeline", "SELECT", None) in before
    assert (api_role, "run_timeline", "INSERT", None) not in before
    assert (api_role, "run_status", "UPDATE", None) in before  # the API's appends write the run's head

    for projection in REBUILDABLE.values():
        await rebuild(migration_pool, projection)

    assert await _privileges(migration_pool) == before


async def _privileges(db: asyncpg.Pool) -> set[tuple[str, str, str, str | None]]:
    """(grantee, table, privilege, column or None) of every grant on a table of the schema."""
    rows = await db.fetch(
        """
        SELECT a.grantee::regrole::text AS grantee, c.relname, a.privilege_type, NULL AS attname
        FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.grantee <> c.relowner
        UNION ALL
        SELECT a.grantee::regrole::text, c.relname, a.privilege_type, att.attname
        FROM pg_class c JOIN pg_attribute att ON att.attrelid = c.oid, aclexplode(att.attacl) a
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
        """
    )
    return {(row[0], row[1], row[2], row[3]) for row in rows}


async def test_an_existing_database_with_keys_and_sessions_is_narrowed_by_the_upgrade_and_keeps_them(
    settings: Settings, migration_pool: asyncpg.Pool, as_api: asyncpg.Connection
) -> None:
    api_role = urlsplit(settings.resolved_database_url()).username
    worker_role = urlsplit(settings.resolved_worker_database_url()).username
    async with migration_pool.acquire() as owner:
        await owner.execute(_BEFORE_0028.format(roles=f'"{api_role}", "{worker_role}"'))
    # Issued by the owner: issuing one also writes its audit entry in the key's tenant, which row-level
    # security keeps from the API's role even where it holds every grant, as before 0028.
    key = await issue_test_key(settings.resolved_migration_database_url())
    presented = parse_key(key)
    assert presented is not None
    await as_api.execute(
        "INSERT INTO ui_sessions (session_hash, key_id, expires_at) VALUES ($1, $2, now() + $3)",
        b"session",
        presented.key_id,
        timedelta(hours=8),
    )

    assert await apply_migrations(settings) == ["0028_least_privilege"]

    assert await principal_for(as_api, presented) is not None  # the key issued before still works
    assert await as_api.fetchval("SELECT count(*) FROM ui_sessions") == 1
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await create_key(as_api, "default", ALL_SCOPES, by="operator:tests")


# A database as 0027 left it: no 0028, and the grants of before (every table's DML to both roles).
_BEFORE_0028 = """
    DROP FUNCTION copy_privileges, grantee_name;
    ALTER TABLE ui_sessions DROP CONSTRAINT ui_sessions_last_a_week_at_most;
    DELETE FROM schema_migrations WHERE number = 28;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {roles};
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {roles};
    REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM {roles};
    REVOKE UPDATE, DELETE ON events, audit_log FROM {roles};
"""
