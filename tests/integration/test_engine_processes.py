"""Engine processes in one consumer group: each step is decided once, even when an engine is killed."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from domain.run_state import FINISHED_STATUSES
from pjs.settings import Settings
from pjs.wiring import event_store
from support.journeys import assert_well_formed, delay, message, patient, save_journey, start_run, types
from support.roles import RoleProcess, eventually, in_process, role_processes

RUNS = 20
NODES = (
    message("hello", "wait"),
    delay("wait", 0.5, "reminder"),
    message("reminder", "again"),
    delay("again", 0.5, "bye"),
    message("bye"),
)
COMPLETED = [
    "RunStarted",
    "MessageRequested",
    "DelayStarted",
    "DelayElapsed",
    "MessageRequested",
    "DelayStarted",
    "DelayElapsed",
    "MessageRequested",
    "RunCompleted",
]


async def test_two_engine_processes_request_each_message_once_per_visit(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    journey_id, journey = await save_journey(pool, "hello", *NODES)
    store = event_store(pool)
    with role_processes(settings, "engine", "engine"):
        async with in_process(settings, "relay", "timer"):
            run_ids = [await start_run(store, journey_id, journey, patient()) for _ in range(RUNS)]
            await eventually(lambda: _all_finished(pool, run_ids), seconds=60)

    for run_id in run_ids:
        stream = await store.read_stream(run_id)
        assert_well_formed(stream)
        assert types(stream) == COMPLETED


async def test_an_engine_killed_mid_run_leaves_runs_that_still_complete_without_repeats(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    journey_id, journey = await save_journey(pool, "hello", *NODES)
    store = event_store(pool)
    async with in_process(settings, "relay", "timer"):
        doomed = RoleProcess("engine", settings)
        try:
            run_ids = [await start_run(store, journey_id, journey, patient()) for _ in range(RUNS)]
            await eventually(lambda: _some_decided(pool), seconds=30, every=0.01)
        finally:
            doomed.kill()
        assert not await _all_finished(pool, run_ids)
        with role_processes(settings, "engine"):
            await eventually(lambda: _all_finished(pool, run_ids), seconds=60)

    for run_id in run_ids:
        stream = await store.read_stream(run_id)
        assert_well_formed(stream)
        assert types(stream) == COMPLETED


async def _all_finished(pool: asyncpg.Pool, run_ids: list[UUID]) -> bool:
    statuses = await pool.fetch("SELECT status FROM run_status WHERE run_id = ANY($1::uuid[])", run_ids)
    return len(statuses) == len(run_ids) and all(row["status"] in FINISHED_STATUSES for row in statuses)


async def _some_decided(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM events WHERE type = 'DelayStarted'"))
