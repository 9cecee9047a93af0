"""An audit log written before migration 0033, on the real Postgres: its entries keep their order and their
cursors, and its entries naming runs are found by those runs after the upgrade."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from events.schema import available_migrations, migrate
from subscribers.audit import record_accesses
from subscribers.audit_reads import audit_position, read_audit
from support.endpoints import Endpoints

UPGRADE = 33


@pytest.fixture
async def before_upgrade(endpoints: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    """The schema owner on a database of its own with every migration before UPGRADE applied."""
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
        for migration in (m for m in available_migrations() if m.number < UPGRADE):
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


async def test_entries_from_before_the_upgrade_keep_their_order_cursors_and_runs_named(
    before_upgrade: asyncpg.Connection,
) -> None:
    db, now, run_id = before_upgrade, datetime.now(UTC), uuid.uuid4()
    await record_accesses(db, [("key:a", run_id)], action="RunTriggered", occurred_at=now)
    listing = {"runs": [str(run_id), str(uuid.uuid4())], "patientFilter": False}
    await record_accesses(db, [("key:a", None)], action="RunsListed", occurred_at=now, details=listing)
    old_ids = [row[0] for row in await db.fetch("SELECT audit_id FROM audit_log ORDER BY audit_id")]

    assert [m.number for m in await migrate(db)] == [UPGRADE]
    await record_accesses(db, [("key:a", run_id)], action="RunRead", occurred_at=now)

    start = await audit_position(db, 0)
    after_first = await audit_position(db, old_ids[0])
    assert start is not None and after_first is not None
    by_run = await read_audit(db, run_id=run_id, patient_id=None, after=start, limit=10)
    assert [row["action"] for row in by_run] == ["RunTriggered", "RunsListed", "RunRead"]
    rest = await read_audit(db, run_id=None, patient_id=None, after=after_first, limit=10)
    assert [row["action"] for row in rest] == ["RunsListed", "RunRead"]
