"""Every scenario, in the order a full run takes them (ceilings before the figures measured against them)."""

from __future__ import annotations

from bench.scenario import Scenario
from bench.scenarios import (
    accept,
    append,
    burst,
    capacity,
    costs,
    machine,
    pipeline,
    raw,
    read,
    relay,
    replay,
    timer,
    trigger,
)

SCENARIOS: tuple[Scenario, ...] = (
    machine.SCENARIO,
    raw.SCENARIO,
    costs.SCENARIO,
    append.SCENARIO,
    relay.SCENARIO,
    pipeline.SCENARIO,
    trigger.SCENARIO,
    burst.SCENARIO,
    accept.SCENARIO,
    read.SCENARIO,
    capacity.SCENARIO,
    timer.SCENARIO,
    replay.SCENARIO,
)


def by_name(name: str) -> Scenario:
    """The scenario called `name`; KeyError lists the known ones."""
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(f"no scenario {name!r}; known: {', '.join(s.name for s in SCENARIOS)}")
