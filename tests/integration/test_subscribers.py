"""Subscribers: the append-only audit log and the analytics day files, each its own consumer group."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson
import pytest

from events.dead_letters import PostgresDeadLetters
from events.group_config import GroupConfig
from pjs.settings import Settings
from pjs.wiring import event_store
from subscribers.analytics import DailyFiles, run_analytics
from subscribers.audit import run_audit
from support.roles import in_process, running_tasks
from support.workload import write_mixed_workload


def group(settings: Settings, name: str) -> GroupConfig:
    return GroupConfig(
        settings.kafka_connection(), settings.run_events_topic, f"{settings.projector_group}-{name}"
    )


@contextlib.asynccontextmanager
async def running(
    settings: Settings, role: Callable[[asyncio.Event], Awaitable[None]]
) -> AsyncIterator[None]:
    """The relay role and the subscriber under test, as tasks of this test."""
    async with in_process(settings, "relay"), running_tasks(role):
        yield


async def test_every_run_event_is_audited_once_with_its_patient_and_actor(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await write_mixed_workload(event_store(pool), runs=8)
    total = await pool.fetchval("SELECT count(*) FROM events")

    async with running(settings, lambda stop: run_audit(group(settings, "audit"), pool, stop)):
        async with asyncio.timeout(30):
            while await pool.fetchval("SELECT count(*) FROM audit_log WHERE run_id IS NOT NULL") < total:
                await asyncio.sleep(0.1)

    rows = await pool.fetch("SELECT * FROM audit_log WHERE run_id IS NOT NULL")
    assert len(rows) == total
    assert {row["patient_id"] for row in rows} == {f"p-{n}" for n in range(7)}
    started = [row for row in rows if row["action"] == "RunStarted"]
    assert {row["actor"] for row in started} == {"api"}
    assert all("patient_context" not in orjson.loads(row["details"]) for row in rows)


async def test_the_audit_log_refuses_updates_and_deletes(
    pool: asyncpg.Pool, migration_pool: asyncpg.Pool
) -> None:
    await pool.execute(
        "INSERT INTO audit_log (source_id, actor, action, occurred_at) VALUES ('x', 'api', 'Test', now())"
    )
    for forgery in ("UPDATE audit_log SET action = 'Forged'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the application may not even try
            await pool.execute(forgery)
        with pytest.raises(asyncpg.RaiseError, match="append-only"):  # the trigger stops the schema's owner
            await migration_pool.execute(forgery)
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 1


async def test_a_new_journey_version_is_audited_as_it_commits(pool: asyncpg.Pool) -> None:
    journey_id = uuid.uuid4()
    for version in (1, 2):
        await pool.execute(
            "INSERT INTO journeys (journey_id, version, name, definition, created_at)"
            " VALUES ($1, $2, 'Pre-op', '{}'::jsonb, now())",
            journey_id,
            version,
        )
    actions = await pool.fetch(
        "SELECT action FROM audit_log WHERE journey_id = $1 ORDER BY audit_id", journey_id
    )
    assert [row["action"] for row in actions] == ["JourneyCreated", "JourneyVersionCreated"]


async def test_analytics_lines_are_de_identified_owner_only_and_kept_for_the_retention_period(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await write_mixed_workload(event_store(pool), runs=8)
    total = await pool.fetchval("SELECT count(*) FROM events")
    run_ids = {str(row["run_id"]) for row in await pool.fetch("SELECT DISTINCT run_id FROM events")}
    expired = tmp_path / "run-events-2025-11-01.ndjson"
    expired.write_bytes(b"{}\n")
    # The workload's events are recorded on 2026-01-01; "now" is the next day, retention 30 days.
    files = DailyFiles(tmp_path, b"s" * 32, retention_days=30, clock=lambda: datetime(2026, 1, 2, tzinfo=UTC))
    day_file = files.path_for("2026-01-01")

    def lines() -> list[dict[str, object]]:
        return (
            [orjson.loads(line) for line in day_file.read_bytes().splitlines()] if day_file.exists() else []
        )

    async with running(
        settings,
        lambda stop: run_analytics(group(settings, "analytics"), files, PostgresDeadLetters(pool), stop),
    ):
        async with asyncio.timeout(30):
            while len({line["event"] for line in lines()}) < total:
                await asyncio.sleep(0.1)

    rows = lines()
    assert {row["type"] for row in rows} >= {"RunStarted", "DelayStarted", "RunCompleted", "RunCancelled"}
    text = day_file.read_text()
    assert not any(run_id in text for run_id in run_ids)  # pseudonyms, never the API's run ids
    for forbidden in ("patient_context", "message", "result", "reason", "resume_at", "fired_at", "run_id"):
        assert all(forbidden not in row for row in rows), forbidden
    started = next(row for row in rows if row["type"] == "RunStarted")
    assert started["journey_id"] and started["journey_version"] == 1
    assert all(str(row["hour"]).endswith(":00:00+00:00") for row in rows)
    assert day_file.stat().st_mode & 0o777 == 0o600
    assert not expired.exists()
