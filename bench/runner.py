"""Runs scenarios one after another, each in a fresh sandbox under a time limit, and collects outcomes."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from bench.config import BenchConfig
from bench.sandbox import sandbox
from bench.scenario import Figures, Scenario, ScenarioContext


@dataclass(frozen=True)
class Outcome:
    """One scenario's result: its figures, or why it failed."""

    name: str
    seconds: float
    figures: Figures
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def run_all(config: BenchConfig, scenarios: Sequence[Scenario]) -> list[Outcome]:
    """Run each scenario; a failure is recorded and the next scenario still runs."""
    outcomes: list[Outcome] = []
    for scenario in scenarios:
        earlier = {outcome.name: outcome.figures for outcome in outcomes if outcome.ok}
        outcomes.append(await _run_one(config, scenario, earlier))
    return outcomes


async def _run_one(config: BenchConfig, scenario: Scenario, earlier: dict[str, Figures]) -> Outcome:
    started = time.perf_counter()
    limit = config.sizes.scenario_seconds
    try:
        async with sandbox(config.databases, config.kafka, scenario.name, config.sizes.partitions) as box:
            async with asyncio.timeout(limit):
                figures = await scenario.run(ScenarioContext(config, box, earlier))
    except TimeoutError:
        return Outcome(scenario.name, _since(started), {}, f"timed out after {limit:.0f}s")
    except Exception as error:  # a failed scenario must not stop the others; the error is reported
        return Outcome(scenario.name, _since(started), {}, _describe(error))
    return Outcome(scenario.name, _since(started), figures)


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 2)


def _describe(error: BaseException) -> str:
    """The innermost error of a task group, as one line plus where it was raised."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    where = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    place = f" ({where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno})" if where else ""
    return f"{type(error).__name__}: {error}{place}"
