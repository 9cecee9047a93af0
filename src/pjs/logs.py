"""Logging set-up for every role: one line per record, never patient fields (callers log ids only)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

NOISY_LOGGERS = (
    "aiokafka",
    "asyncpg",
    "engine.channels.send_failures",
    "api.header_deadline",
    "api.errors.outages",
)
"""Loggers that log every failed connection or send attempt (while a broker or a message provider is down,
thousands of lines a minute), every client too slow to send its request head (a flood of them), or every
request refused while Postgres is down or saturated (one per request)."""

REPEAT_WINDOW_SECONDS = 60.0


class QuietRepeats(logging.Filter):
    """Lets a library's repeated warning through once per window, then says how many it held back.

    Repeats are told apart by logger and message template (not the formatted text, which carries
    addresses and attempt numbers), so "Unable connect to node ..." is one line a minute, not one per try.
    """

    def __init__(
        self,
        prefixes: tuple[str, ...] = NOISY_LOGGERS,
        window_seconds: float = REPEAT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._window = window_seconds
        self._clock = clock
        self._last_shown: dict[tuple[str, str], float] = {}
        self._held_back: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefixes):
            return True
        key = (record.name, str(record.msg))
        now = self._clock()
        shown = self._last_shown.get(key)
        if shown is not None and now - shown < self._window:
            self._held_back[key] = self._held_back.get(key, 0) + 1
            return False
        self._last_shown[key] = now
        if record.exc_info and record.exc_info[1] is not None and not record.name.startswith("pjs"):
            # A library's expected outage (asyncpg's pool refilling while Postgres restarts): its type
            # says enough; a traceback a minute would read like a crash.
            record.msg = f"{record.msg} ({type(record.exc_info[1]).__name__})"
            record.exc_info = None
        held = self._held_back.pop(key, 0)
        if held:
            record.msg = f"{record.msg} ({held} similar line(s) held back in the last {self._window:.0f} s)"
        return True


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    quiet = QuietRepeats()
    for handler in logging.getLogger().handlers:
        handler.addFilter(quiet)
