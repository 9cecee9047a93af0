"""`PJS_WORKER_NICENESS`: a worker process lowers its CPU priority as it starts, and still runs journeys;
`PJS_READ_SIDE_NICENESS`: by default a process of the read side alone does, and still projects runs."""

from __future__ import annotations

import os
from uuid import UUID

import asyncpg
import psutil

from pjs.settings import Settings
from pjs.wiring import event_store
from support.journeys import message, patient, save_journey, start_run
from support.roles import RoleProcess, eventually

WORKERS = ("relay", "engine", "delivery")


async def test_with_a_worker_niceness_set_the_workers_run_nicer_and_still_finish_runs(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    niced = settings.model_copy(update={"worker_niceness": 5})
    journey_id, journey = await save_journey(pool, "hello", message("hello"))
    own = os.getpriority(os.PRIO_PROCESS, 0)
    workers = RoleProcess(WORKERS, niced)
    try:
        run_id = await start_run(event_store(pool), journey_id, journey, patient())
        await eventually(lambda: _completed(pool, run_id), seconds=60)

        assert psutil.Process(workers.pid).nice() == max(own, 5)
        assert all(thread_niceness >= max(own, 5) for thread_niceness in _threads_niceness(workers.pid))
    finally:
        workers.stop()


async def test_by_default_a_projector_process_runs_nicer_and_still_projects_every_event_of_a_run(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    journey_id, journey = await save_journey(pool, "hello", message("hello"))
    own = os.getpriority(os.PRIO_PROCESS, 0)
    workers, projector = RoleProcess(WORKERS, settings), RoleProcess("projector", settings)
    try:
        run_id = await start_run(event_store(pool), journey_id, journey, patient())
        await eventually(lambda: _completed(pool, run_id), seconds=60)
        await eventually(lambda: _timeline_complete(pool, run_id), seconds=60)

        assert psutil.Process(projector.pid).nice() == max(own, 10)
        assert psutil.Process(workers.pid).nice() == own
    finally:
        projector.stop()
        workers.stop()


async def _timeline_complete(pool: asyncpg.Pool, run_id: UUID) -> bool:
    timeline = await pool.fetchval("SELECT count(*) FROM run_timeline WHERE run_id = $1", run_id)
    events = await pool.fetchval("SELECT count(*) FROM events WHERE run_id = $1", run_id)
    return bool(events) and timeline == events


def _threads_niceness(pid: int) -> list[int]:
    """Every thread's niceness: on Linux each thread has its own, and a thread takes its starter's."""
    return [psutil.Process(thread.id).nice() for thread in psutil.Process(pid).threads()]


async def _completed(pool: asyncpg.Pool, run_id: UUID) -> bool:
    return await pool.fetchval("SELECT status FROM run_status WHERE run_id = $1", run_id) == "completed"
