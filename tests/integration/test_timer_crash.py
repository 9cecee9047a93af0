"""A timer killed with SIGKILL mid-batch loses nothing and fires nothing twice once restarted."""

from __future__ import annotations

import asyncpg

from pjs.settings import Settings
from pjs.wiring import event_store
from support.delays import delays_left, due_runs, fired_counts
from support.roles import RoleProcess, eventually


async def test_a_timer_killed_mid_batch_fires_every_due_delay_exactly_once_after_restart(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    run_ids = await due_runs(event_store(pool), pool, 3000)
    small_batches = settings.model_copy(update={"timer_batch_size": 50})

    doomed = RoleProcess("timer", small_batches)
    try:
        await eventually(lambda: _some_fired(pool), seconds=30, every=0.01)
    finally:
        doomed.kill()
    left_by_the_crash = await delays_left(pool)
    assert 0 < left_by_the_crash < 3000

    restarted = RoleProcess("timer", small_batches)
    try:
        await eventually(lambda: _none_left(pool), seconds=60)
    finally:
        assert restarted.stop() == 0

    assert await fired_counts(pool) == dict.fromkeys(run_ids, 1)


async def _some_fired(pool: asyncpg.Pool) -> bool:
    return len(await fired_counts(pool)) > 0


async def _none_left(pool: asyncpg.Pool) -> bool:
    return await delays_left(pool) == 0
