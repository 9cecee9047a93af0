"""What a scenario is: a name, a one-line summary, and an async function from its context to figures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bench.config import BenchConfig
from bench.sandbox import Sandbox

Figure = int | float | str | bool
Figures = dict[str, Figure]


@dataclass(frozen=True)
class ScenarioContext:
    """Everything a scenario gets: the run's config, its own sandbox, and the figures of earlier scenarios."""

    config: BenchConfig
    sandbox: Sandbox
    earlier: Mapping[str, Figures]  # scenario name -> figures, for scenarios that succeeded before this one

    def earlier_figure(self, scenario: str, name: str) -> float | None:
        """A numeric figure measured earlier in the same run (e.g. a ceiling), or None."""
        value = self.earlier.get(scenario, {}).get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Scenario:
    """One benchmark. `run` returns flat figures; raising fails the scenario (and the run's exit code)."""

    name: str
    summary: str
    run: Callable[[ScenarioContext], Awaitable[Figures]]
