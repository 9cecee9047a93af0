"""Doing something at most once an interval (a metric read, an offset commit), however often it is asked."""

from __future__ import annotations

import time
from collections.abc import Callable


class Every:
    """`due()` is true at most once every `seconds` (the first time it is asked, always); 0: every time."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._next_at = 0.0

    def due(self) -> bool:
        now = self._clock()
        if now < self._next_at:
            return False
        self._next_at = now + self._seconds
        return True
