"""The steady mixed load: the reference journey at a fixed rate (both branches), some runs cancelled."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from faults.client import Api
from faults.config import Sizes

_MAX_IN_FLIGHT = 40  # triggers and cancels waiting for an answer; a tick beyond this is skipped
_CANCEL_AFTER_SECONDS = 1.5  # by then the run normally sleeps in its DELAY


def reference_journey(delay_seconds: float) -> dict[str, Any]:
    """The demo journey (message, condition on age, optional message, delay, message), with a short delay."""
    journey: dict[str, Any] = json.loads(
        resources.files("pjs").joinpath("demo", "pre_op_reminders.json").read_text()
    )
    for node in journey["nodes"]:
        if node["type"] == "DELAY":
            node["duration_seconds"] = delay_seconds
    return journey


def patient(index: int) -> dict[str, Any]:
    """Alternately over and under the condition's 65 years, so both branches are taken."""
    return {"id": f"patient-{index}", "age": 70 if index % 2 == 0 else 40, "language": "en"}


@dataclass
class Acknowledged:
    """A run the API answered 2xx to, and the terminal statuses it may end in given what was done to it."""

    run_id: str
    expected: frozenset[str] = frozenset({"completed"})


@dataclass
class Load:
    api: Api
    journey_id: str
    sizes: Sizes
    runs: list[Acknowledged] = field(default_factory=list)
    triggered: int = 0
    skipped: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run_until(self, done: asyncio.Event) -> None:
        """Trigger at the steady rate until `done` is set and the target number of runs was triggered."""
        started = time.monotonic()
        while not (done.is_set() and self.triggered >= self.sizes.runs):
            next_tick = started + self.triggered / self.sizes.rate
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            index = self.triggered
            self.triggered += 1
            if len(self._tasks) >= _MAX_IN_FLIGHT:
                self.skipped += 1
                continue
            self._spawn(self._trigger(index))
        await self.settle()

    async def settle(self) -> None:
        """Wait for every trigger and cancel still in flight (each is bounded by the client's timeout)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _trigger(self, index: int) -> None:
        run_id = await self.api.trigger(self.journey_id, patient(index))
        if run_id is None:
            return
        run = Acknowledged(run_id)
        self.runs.append(run)
        if len(self.runs) % self.sizes.cancel_every == 0:
            await asyncio.sleep(_CANCEL_AFTER_SECONDS)
            answer = await self.api.cancel(run_id)
            if answer is not None and 200 <= answer < 300:
                run.expected = frozenset({"cancelled"})
            elif answer != 409:  # no answer, or a 5xx: the cancel may or may not have happened
                run.expected = frozenset({"completed", "cancelled"})
