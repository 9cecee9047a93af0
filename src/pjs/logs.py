"""Logging set-up for every role: one line per record, never patient fields (callers log ids only)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiokafka.errors import GroupCoordinatorNotAvailableError

NOISY_LOGGERS = (
    "aiokafka",
    "asyncpg",
    "engine.channels.send_failures",
    "api.header_deadline",
    "api.errors.outages",
    "api.refusals.unwritten",
)
"""Loggers that log every failed connection or send attempt (while a broker or a message provider is down,
thousands of lines a minute), every client too slow to send its request head (a flood of them), or every
request refused while Postgres is down or saturated (one per request), or every refusal whose audit entry
cannot be written."""

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


EXPECTED_KAFKA_CONDITIONS: tuple[tuple[str, str, type[BaseException] | None], ...] = (
    # At a group's first start the broker is still creating __consumer_offsets; the lookup is retried.
    (
        "Group Coordinator Request failed: %s",
        "aiokafka.consumer.group_coordinator",
        GroupCoordinatorNotAvailableError,
    ),
    # After a pause longer than the session (a stopped process, a host's suspend); the consumer rejoins.
    ("Heartbeat session expired - marking coordinator dead", "aiokafka.consumer.group_coordinator", None),
    # Stopping while the coordinator is gone: the broker drops the member when its session ends.
    (
        "LeaveGroup request failed: %s",
        "aiokafka.consumer.group_coordinator",
        GroupCoordinatorNotAvailableError,
    ),
)
"""aiokafka's ERROR lines for conditions it recovers from by itself: (message template, logger, the error
its argument must be, if any)."""


class ExpectedKafkaConditions(logging.Filter):
    """Logs aiokafka's known, self-healing conditions (`EXPECTED_KAFKA_CONDITIONS`) at WARNING instead of
    ERROR, so an ERROR from aiokafka still means something an operator should look at."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and any(map(_matches(record), EXPECTED_KAFKA_CONDITIONS)):
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def _matches(record: logging.LogRecord) -> Callable[[tuple[str, str, type[BaseException] | None]], bool]:
    argument = record.args[0] if isinstance(record.args, tuple) and record.args else None

    def known(condition: tuple[str, str, type[BaseException] | None]) -> bool:
        template, logger, error = condition
        return (record.msg, record.name) == (template, logger) and (
            error is None or isinstance(argument, error)
        )

    return known


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    expected, quiet = ExpectedKafkaConditions(), QuietRepeats()
    for handler in logging.getLogger().handlers:
        handler.addFilter(expected)  # first: a lowered line then counts among the quieted ones
        handler.addFilter(quiet)
