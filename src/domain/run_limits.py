"""The caps every run lives under, so that no journey, however it is drawn, can make a run run away."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RunLimits:
    """How much one run may do; a decision that would go past a cap fails the run instead.

    `max_events_per_decision` bounds one append (one wake-up's batch, its last event included);
    `max_visits_per_node` bounds how often a run passes any one node over its whole life, so a loop through
    a long enough DELAY still ends.
    """

    max_events_per_decision: int = 500
    max_visits_per_node: int = 1000

    def __post_init__(self) -> None:
        if self.max_events_per_decision < 1 or self.max_visits_per_node < 1:
            raise ValueError("Run limits must be at least 1.")


DEFAULT_RUN_LIMITS = RunLimits()
