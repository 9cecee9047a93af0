"""`pjs run relay engine ...`: several roles as tasks of one process, as `pjs dev --together` runs workers.

They run journeys end to end as separate processes do, stop together on SIGTERM with exit code 0, and a
role that fails takes its process-mates down (exit code 1) instead of leaving them running half a service.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from uuid import UUID

import asyncpg

from domain.run_state import FINISHED_STATUSES
from pjs.settings import Settings
from pjs.wiring import event_store
from support.journeys import delay, message, patient, save_journey, start_run
from support.roles import RoleProcess, eventually, with_own_subscriber_groups

SHUTDOWN_SECONDS = 4.0
RUNS = 5
WORKERS = ("relay", "engine", "delivery", "timer", "projector", "audit", "analytics")
NODES = (message("hello", "wait"), delay("wait", 0.3, "bye"), message("bye"))


async def test_every_worker_in_one_process_runs_journeys_to_the_end_and_stops_cleanly(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    settings = with_own_subscriber_groups(settings, tmp_path, shutdown_seconds=SHUTDOWN_SECONDS)
    journey_id, journey = await save_journey(pool, "hello", *NODES)
    store = event_store(pool)
    workers = RoleProcess(WORKERS, settings)
    try:
        run_ids = [await start_run(store, journey_id, journey, patient()) for _ in range(RUNS)]
        await eventually(lambda: _finished_and_seen_by_every_reader(pool, run_ids), seconds=90)
        assert await asyncio.to_thread(lambda: any(tmp_path.iterdir()))  # analytics wrote its files

        exit_code, stopped_after = workers.terminate_and_time(SHUTDOWN_SECONDS + 20)
    finally:
        workers.kill()

    assert exit_code == 0
    assert stopped_after < SHUTDOWN_SECONDS + 3  # one bound for all of them, plus a loaded machine's slack
    assert await pool.fetchval("SELECT count(*) FROM events WHERE type = 'MessageDelivered'") == 2 * RUNS


async def test_a_role_that_fails_takes_its_process_mates_down_with_exit_code_1(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    # The analytics directory under a file: analytics fails as it starts; the relay beside it was running.
    (tmp_path / "a-file").touch()
    update = {"shutdown_seconds": SHUTDOWN_SECONDS, "analytics_dir": tmp_path / "a-file" / "days"}
    started = time.monotonic()
    together = RoleProcess(("relay", "analytics"), settings.model_copy(update=update))
    try:
        exit_code = together.wait(timeout=60)
    finally:
        together.kill()

    assert exit_code == 1
    assert time.monotonic() - started < 45  # start-up and migrations, then the relay's bounded stop


async def _finished_and_seen_by_every_reader(pool: asyncpg.Pool, run_ids: list[UUID]) -> bool:
    statuses = await pool.fetch("SELECT status FROM run_status WHERE run_id = ANY($1::uuid[])", run_ids)
    finished = len(statuses) == len(run_ids) and all(row["status"] in FINISHED_STATUSES for row in statuses)
    seen = await pool.fetchval(
        "SELECT (SELECT count(DISTINCT run_id) FROM run_timeline WHERE run_id = ANY($1::uuid[])) = $2"
        " AND (SELECT count(*) FROM audit_log) > 0"
        " AND (SELECT count(*) FROM events"
        "      WHERE type = 'MessageDelivered' AND run_id = ANY($1::uuid[])) = 2 * $2",
        run_ids,
        len(run_ids),
    )  # every run's two messages sent, every run in the timeline, the audit log written
    return finished and bool(seen)
