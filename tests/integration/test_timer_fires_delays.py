"""The timer fires each due delay exactly once, never early, in batches that several timers share."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from engine.timer import Timer, TimerConfig
from engine.timer_metrics import TIMER_LATENESS
from events.catalogue import DelayElapsed
from pjs import wiring
from pjs.settings import Settings
from pjs.wiring import event_store
from support.delays import (
    cancel,
    database_now,
    delays_left,
    due_runs,
    elapsed_events,
    fired_counts,
    sleeping_runs,
)
from support.roles import eventually, running_tasks

FAST = TimerConfig(batch_size=100, max_sleep_seconds=1.0)


def timer(pool: asyncpg.Pool, config: TimerConfig = FAST) -> Timer:
    return wiring.timer(pool, config, Settings())


async def no_delays_left(pool: asyncpg.Pool) -> bool:
    return await delays_left(pool) == 0


async def test_a_delay_never_fires_before_its_resume_at(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    # A second's head start, so that writing the runs and starting the timer are done before the first is due.
    now = await database_now(pool)
    run_ids = await sleeping_runs(store, [now + timedelta(seconds=1 + 0.2 * n) for n in range(5)])

    async with running_tasks(timer(pool).run):
        await eventually(lambda: no_delays_left(pool), seconds=10)

    fired = await elapsed_events(pool, store)
    assert {event.run_id for event in fired} == set(run_ids)
    for event in fired:
        assert isinstance(event.event, DelayElapsed)
        assert event.event.fired_at >= event.event.resume_at
        assert event.event.fired_at - event.event.resume_at < timedelta(seconds=0.5)


async def test_two_timers_fire_each_of_1000_delays_exactly_once(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    run_ids = await due_runs(store, pool, 1000)
    first, second = timer(pool), timer(pool)

    async with running_tasks(first.run, second.run):
        await eventually(lambda: no_delays_left(pool), seconds=30)

    assert await fired_counts(pool) == dict.fromkeys(run_ids, 1)
    assert first.fired + second.fired == 1000
    assert first.fired > 0 and second.fired > 0


async def test_a_backlog_drains_oldest_first_in_full_batches(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    now = await database_now(pool)
    oldest = await sleeping_runs(store, [now - timedelta(minutes=10)] * 100)
    await sleeping_runs(store, [now - timedelta(minutes=1)] * 150)

    claimed = await timer(pool).fire_due()

    assert claimed == 100
    assert set(await fired_counts(pool)) == set(oldest)


async def test_cancel_during_a_delay_never_fires_the_timer(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    now = await database_now(pool)
    [cancelled, kept] = await sleeping_runs(store, [now + timedelta(seconds=0.5)] * 2)
    await cancel(store, cancelled)

    async with running_tasks(timer(pool).run):
        await eventually(lambda: no_delays_left(pool), seconds=10)  # the cancel removed its delay row

    assert await fired_counts(pool) == {kept: 1}
    assert [e.event.type for e in await store.read_stream(cancelled)][-1] == "RunCancelled"


async def test_a_zero_second_delay_fires_at_once(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    async with running_tasks(timer(pool, TimerConfig(max_sleep_seconds=3600.0)).run):
        await asyncio.sleep(0.2)  # the timer is asleep, planning to poll again in an hour
        [run_id] = await sleeping_runs(store, [await database_now(pool)])
        await eventually(lambda: no_delays_left(pool), seconds=30, every=0.01)  # only a wake-up fires it

    assert await fired_counts(pool) == {run_id: 1}


async def test_an_earlier_delay_wakes_a_sleeping_timer(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    now = await database_now(pool)
    await sleeping_runs(store, [now + timedelta(hours=1)])
    async with running_tasks(timer(pool, TimerConfig(max_sleep_seconds=3600.0)).run):
        await asyncio.sleep(0.2)  # the timer is asleep until the delay an hour away
        [soon] = await sleeping_runs(store, [await database_now(pool) + timedelta(seconds=0.3)])
        await eventually(lambda: _fired(pool, soon), seconds=30, every=0.01)  # only a wake-up fires it


async def test_lateness_is_recorded_in_the_histogram(pool: asyncpg.Pool) -> None:
    store = event_store(pool)
    before = _lateness_count()
    await due_runs(store, pool, 3)

    await timer(pool).fire_due()

    assert _lateness_count() == before + 3


async def _fired(pool: asyncpg.Pool, run_id: object) -> bool:
    return run_id in await fired_counts(pool)


def _lateness_count() -> float:
    for metric in TIMER_LATENESS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                return sample.value
    return 0.0
