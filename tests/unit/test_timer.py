"""The timer on in-memory fakes: a due delay wakes its run once; a future or cancelled one never fires."""

from __future__ import annotations

import asyncio

from worker_fixtures import backend_with_journey, started_run

from engine.commands import cancel_run
from engine.timer import Timer, TimerConfig
from events.catalogue import DelayElapsed
from support.fakes import FakeBackend


def timer(backend: FakeBackend) -> Timer:
    return Timer(backend.delays, TimerConfig(batch_size=10))


async def test_a_delay_fires_once_when_due_and_never_before() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend)

    backend.clock.advance(59.9)
    assert await timer(backend).fire_due() == 0
    backend.clock.advance(0.1)
    assert await timer(backend).fire_due() == 1
    assert await timer(backend).fire_due() == 0

    fired = [e.event for e in await backend.stream(run_id) if isinstance(e.event, DelayElapsed)]
    assert len(fired) == 1 and fired[0].fired_at >= fired[0].resume_at


async def test_cancel_during_a_delay_never_fires_the_timer() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend)
    await cancel_run(backend.store, backend.heads, run_id=run_id, reason=None, now=backend.clock())

    backend.clock.advance(3600)

    assert await timer(backend).fire_due() == 0
    assert (await backend.types(run_id))[-1] == "RunCancelled"


async def test_a_backlog_is_fired_in_batches_of_the_configured_size() -> None:
    backend = backend_with_journey()
    runs = [await started_run(backend) for _ in range(15)]
    backend.clock.advance(60)

    claimed = [await timer(backend).fire_due() for _ in range(3)]

    assert claimed == [10, 5, 0]
    assert [(await backend.types(run_id))[-1] for run_id in runs] == ["DelayElapsed"] * 15


async def test_a_running_timer_fires_what_is_due_and_stops_when_asked() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend)
    backend.clock.advance(60)
    stop = asyncio.Event()
    running = asyncio.create_task(Timer(backend.delays, TimerConfig(max_sleep_seconds=0.01)).run(stop))

    async with asyncio.timeout(5):
        while (await backend.types(run_id))[-1] != "DelayElapsed":
            await asyncio.sleep(0.01)
        stop.set()
        await running
