"""The timer: fires due delays (DelayElapsed) in batches, sleeping until the next resume_at in between.

One loop per process, never a task per sleeping run. What is due, and firing it atomically, is the
`DelayQueue`'s job (engine/delays.py); whether a due delay still wakes its run is the decider's.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from domain.decider import decide_delay_fired
from engine.delays import DelayQueue, DueDelay
from engine.timer_metrics import TIMER_LATENESS, TIMERS_FIRED
from events.catalogue import RunEvent
from events.retry import retry_until_stopped
from events.waiting import wait_for_stop_or

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimerConfig:
    batch_size: int = 1000
    max_sleep_seconds: float = 1.0  # fallback poll, should a notification be missed
    retry_seconds: float = 1.0


class Timer:
    """Run with `await timer.run(stop)`; several timers may run against one database."""

    def __init__(self, queue: DelayQueue, config: TimerConfig) -> None:
        self._queue = queue
        self._config = config
        self.fired = 0

    async def run(self, stop: asyncio.Event) -> None:
        await retry_until_stopped(
            lambda: self._serve(stop), stop, log=log, what="timer", first_wait=self._config.retry_seconds
        )

    async def _serve(self, stop: asyncio.Event) -> None:
        wake_up = _WakeUp()
        async with self._queue.listening(wake_up.on_scheduled):
            while not stop.is_set():
                if await self.fire_due() >= self._config.batch_size:
                    continue  # a backlog: drain it in full batches, oldest first
                wake_up.expect(None)  # until the next due time is known, any new delay wakes us
                next_due, queue_now = await self._queue.next_due()
                wake_up.expect(next_due)
                seconds = self._config.max_sleep_seconds
                if next_due is not None:
                    seconds = min(seconds, max((next_due - queue_now).total_seconds(), 0.0))
                await wait_for_stop_or(stop, wake_up.earlier, seconds)

    async def fire_due(self) -> int:
        """Fire one batch of due delays; returns how many rows it claimed."""
        batch = await self._queue.fire_due(self._config.batch_size, _decide)
        for resume_at, fired_at in batch.fired:
            TIMER_LATENESS.observe((fired_at - resume_at).total_seconds())
        TIMERS_FIRED.inc(len(batch.fired))
        self.fired += len(batch.fired)
        return batch.claimed


def _decide(delay: DueDelay) -> list[RunEvent]:
    return decide_delay_fired(
        delay.state, node_id=delay.node_id, resume_at=delay.resume_at, fired_at=delay.fired_at
    )


class _WakeUp:
    """Set `earlier` when a delay is scheduled before the time the timer plans to wake up."""

    def __init__(self) -> None:
        self.earlier = asyncio.Event()
        self._planned: datetime | None = None

    def expect(self, planned: datetime | None) -> None:
        """None: the plan is being worked out, so every notification counts as earlier."""
        if planned is None:
            self.earlier.clear()
        self._planned = planned

    def on_scheduled(self, resume_at: datetime | None) -> None:
        if self._planned is None or resume_at is None or resume_at < self._planned:
            self.earlier.set()
