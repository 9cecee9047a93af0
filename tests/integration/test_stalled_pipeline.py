"""/ready warns of work that waits with nobody getting on with it: due delays unfired, a consumer group
behind without progress, committed events unpublished; and stops warning once the work flows."""

from __future__ import annotations

import asyncpg

from pjs.settings import Settings
from pjs.wiring import event_store
from support.api import app_client
from support.delays import due_runs
from support.journeys import message, patient, save_journey, start_run
from support.roles import eventually, in_process, role_processes
from support.stalls import (
    STALL_SECONDS,
    beating_fast,
    heartbeat_pids,
    no_warning_starting,
    ready_details,
    warning_starting,
)


async def test_due_delays_left_unfired_warn_of_the_timer_until_a_timer_runs(
    settings: Settings, pool: asyncpg.Pool, api_key: str
) -> None:
    fast = beating_fast(settings)
    await due_runs(event_store(pool), pool, 3, ago=STALL_SECONDS + 5)

    async with app_client(fast, api_key) as (api, _):
        warning = await warning_starting(api, "timer:")
        assert warning is not None
        assert warning.startswith("timer: 3 delay(s) due more than 1.5 s ago not fired (the oldest due ")
        assert "see whether a timer runs" in warning
        overdue = next(
            line
            for line in (await api.get("/metrics")).text.splitlines()
            if line.startswith("pjs_timer_overdue_seconds ")
        )
        assert float(overdue.split()[-1]) > STALL_SECONDS + 5

        with role_processes(fast, "timer"):
            await eventually(lambda: no_warning_starting(api, "timer"), seconds=30)


async def test_committed_events_left_unpublished_warn_of_the_relay_until_a_relay_runs(
    settings: Settings, pool: asyncpg.Pool, api_key: str
) -> None:
    fast = beating_fast(settings)
    journey_id, journey = await save_journey(pool, "hello", message("hello"))
    await start_run(event_store(pool), journey_id, journey, patient())

    async with app_client(fast, api_key) as (api, _):
        warning = await eventually(lambda: warning_starting(api, "relay:"), seconds=30)
        assert warning.startswith("relay: committed events not published for ")
        assert "(up to 1 event(s))" in warning and "see whether a relay runs" in warning

        with role_processes(fast, "relay"):
            await eventually(lambda: no_warning_starting(api, "relay"), seconds=30)


async def test_a_consumer_group_behind_without_progress_is_named_and_one_keeping_up_is_not(
    settings: Settings, pool: asyncpg.Pool, migration_pool: asyncpg.Pool, api_key: str
) -> None:
    fast = beating_fast(settings)
    journey_id, journey = await save_journey(pool, "hello", message("hello"))
    engine_behind = "engine: group "
    with role_processes(fast, "engine") as [engine]:
        async with app_client(fast, api_key) as (api, _):
            await eventually(lambda: _beating(pool, engine.pid), seconds=60)
            assert await no_warning_starting(api, engine_behind)  # idle, so keeping up
            await start_run(event_store(pool), journey_id, journey, patient())

            # The engine's step writes the run's head: with run_status locked against writes it waits. (An
            # ACCESS EXCLUSIVE lock would hold the feed back instead: it takes a transaction id.)
            async with migration_pool.acquire() as locker, locker.transaction():
                await locker.execute("LOCK TABLE run_status IN EXCLUSIVE MODE")
                async with in_process(fast, "relay"):
                    warning = await eventually(lambda: warning_starting(api, engine_behind), seconds=30)

            assert f"group {fast.engine_group} on " in warning
            assert f"pid {engine.pid} is 1 record(s) behind and has made no progress for " in warning
            assert "runs wait for it" in warning
            async with in_process(fast, "relay"):
                await eventually(lambda: no_warning_starting(api, engine_behind), seconds=30)
                assert not [line for line in await ready_details(api) if line.startswith("engine")]


async def _beating(pool: asyncpg.Pool, pid: int) -> bool:
    return pid in await heartbeat_pids(pool, "engine")
