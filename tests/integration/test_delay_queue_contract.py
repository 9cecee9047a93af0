"""One behaviour suite for every DelayQueue: the Postgres adapter and the in-memory fake the unit tests use
must both pass it, so the fake cannot drift from what the timer really gets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from domain.decider import decide_delay_fired
from engine.delays import DelayQueue, DueDelay, PostgresDelayQueue
from events.catalogue import RunEvent
from events.store import EventStore
from pjs.wiring import event_store
from support.delays import cancel, database_now, sleeping_runs
from support.fakes import FakeBackend
from support.journeys import types


@dataclass(frozen=True)
class Delays:
    """A store whose appends keep the queue's delays, the queue, and the queue's own clock."""

    store: EventStore
    queue: DelayQueue
    now: Callable[[], Awaitable[datetime]]


@pytest.fixture(params=["postgres", "in_memory"])
def delays(request: pytest.FixtureRequest) -> Delays:
    if request.param == "in_memory":
        backend = FakeBackend()

        async def manual_now() -> datetime:
            return backend.clock()

        return Delays(backend.store, backend.delays, manual_now)
    pool: asyncpg.Pool = request.getfixturevalue("pool")
    store = event_store(pool, request.getfixturevalue("settings"))
    return Delays(store, PostgresDelayQueue(pool, store), lambda: database_now(pool))


def wake_up(delay: DueDelay) -> list[RunEvent]:
    return decide_delay_fired(
        delay.state, node_id=delay.node_id, resume_at=delay.resume_at, fired_at=delay.fired_at
    )


async def test_only_due_delays_fire_the_oldest_first_and_at_most_the_limit(delays: Delays) -> None:
    now = await delays.now()
    due = [now - timedelta(seconds=seconds) for seconds in (30, 20, 10)]
    oldest, older, newest, later = await sleeping_runs(delays.store, [*due, now + timedelta(hours=1)])

    first = await delays.queue.fire_due(2, wake_up)
    second = await delays.queue.fire_due(2, wake_up)
    third = await delays.queue.fire_due(2, wake_up)

    assert (first.claimed, second.claimed, third.claimed) == (2, 1, 0)
    assert sorted(resume_at for resume_at, _ in first.fired) == due[:2]
    assert [resume_at for resume_at, _ in second.fired] == due[2:]
    for run_id in (oldest, older, newest):
        assert (await types_of(delays, run_id))[-1] == "DelayElapsed"
    assert await types_of(delays, later) == ["RunStarted", "DelayStarted"]
    assert (await delays.queue.next_due())[0] == now + timedelta(hours=1)


async def test_a_delay_fires_never_before_its_resume_at_and_only_once(delays: Delays) -> None:
    now = await delays.now()
    [run_id] = await sleeping_runs(delays.store, [now - timedelta(seconds=1)])

    fired = await delays.queue.fire_due(10, wake_up)
    again = await delays.queue.fire_due(10, wake_up)

    [(resume_at, fired_at)] = fired.fired
    assert resume_at == now - timedelta(seconds=1) and fired_at >= resume_at
    assert again.claimed == 0 and again.fired == []
    assert (await types_of(delays, run_id)).count("DelayElapsed") == 1


async def test_a_delay_ended_before_it_fired_never_fires(delays: Delays) -> None:
    now = await delays.now()
    cancelled, kept = await sleeping_runs(delays.store, [now - timedelta(seconds=5)] * 2)
    await cancel(delays.store, cancelled)

    fired = await delays.queue.fire_due(10, wake_up)

    assert fired.claimed == 1
    assert await types_of(delays, cancelled) == ["RunStarted", "DelayStarted", "RunCancelled"]
    assert (await types_of(delays, kept))[-1] == "DelayElapsed"


async def test_next_due_is_the_earliest_resume_at_and_none_once_nothing_sleeps(
    delays: Delays,
) -> None:
    assert (await delays.queue.next_due())[0] is None
    now = await delays.now()
    await sleeping_runs(delays.store, [now + timedelta(hours=2), now + timedelta(hours=1)])

    assert (await delays.queue.next_due())[0] == now + timedelta(hours=1)


async def types_of(delays: Delays, run_id: UUID) -> list[str]:
    return types(await delays.store.read_stream(run_id))
