"""Each consumer group's progress in this process: records behind, and when it last got on.

The consumer loop notes it as it goes; the process's heartbeat (`events.heartbeats`) carries it to Postgres,
where `/ready` can see a member that is alive but stuck, which the member's own metrics cannot show.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class GroupProgress:
    """A group member's progress, on the monotonic clock."""

    clock: Callable[[], float] = time.monotonic
    lag: int = 0
    """Records past the member's position in its partitions (as of the last fetch), 0 until known."""
    in_flight: int = 0
    """Records fetched and not handled yet."""
    progressed_at: float | None = None
    _started_at: float = field(init=False)

    def __post_init__(self) -> None:
        self._started_at = self.clock()

    @property
    def records_behind(self) -> int:
        return self.lag + self.in_flight

    def fetched(self, records: int) -> None:
        """A fetch returned `records`; none means the member had nothing to do, which is progress too."""
        self.in_flight = records
        if not records:
            self.progressed_at = self.clock()

    def handled(self) -> None:
        """The batch in flight was handled (or was not this member's to handle any more)."""
        self.in_flight = 0
        self.progressed_at = self.clock()

    def seconds_since_progress(self) -> float:
        """Since the member last got on; since it started, if it never has."""
        return self.clock() - (self.progressed_at if self.progressed_at is not None else self._started_at)


_GROUPS: dict[str, GroupProgress] = {}


def group_progress(group: str) -> GroupProgress:
    """The progress of `group`'s member in this process (one per group, shared if a loop is rebuilt)."""
    return _GROUPS.setdefault(group, GroupProgress())
