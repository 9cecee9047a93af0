"""An audit log written before migration 0033, on the real Postgres: its entries keep their order and their
cursors, and its entries naming runs are found by those runs after the upgrade."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from events.schema import migrate
from subscribers.audit import record_accesses
from subscribers.audit_reads import audit_position, read_audit
from support.endpoints import Endpoints
from support.upgrades import from_on, migrated_before

UPGRADE = 33


@pytest.fixture
async def before_upgrade(endpoints: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    """The schema owner on a database of its own with every migration before UPGRADE applied."""
    async with migrated_before(endpoints, UPGRADE) as connection:
        yield connection


async def test_entries_from_before_the_upgrade_keep_their_order_cursors_and_runs_named(
    before_upgrade: asyncpg.Connection,
) -> None:
    db, now, run_id = before_upgrade, datetime.now(UTC), uuid.uuid4()
    await record_accesses(db, [("key:a", run_id)], action="RunTriggered", occurred_at=now)
    listing = {"runs": [str(run_id), str(uuid.uuid4())], "patientFilter": False}
    await record_accesses(db, [("key:a", None)], action="RunsListed", occurred_at=now, details=listing)
    old_ids = [row[0] for row in await db.fetch("SELECT audit_id FROM audit_log ORDER BY audit_id")]

    assert [m.number for m in await migrate(db)] == from_on(UPGRADE)
    await record_accesses(db, [("key:a", run_id)], action="RunRead", occurred_at=now)

    start = await audit_position(db, 0)
    after_first = await audit_position(db, old_ids[0])
    assert start is not None and after_first is not None
    by_run = await read_audit(db, run_id=run_id, patient_id=None, after=start, limit=10)
    assert [row["action"] for row in by_run] == ["RunTriggered", "RunsListed", "RunRead"]
    rest = await read_audit(db, run_id=None, patient_id=None, after=after_first, limit=10)
    assert [row["action"] for row in rest] == ["RunsListed", "RunRead"]
