"""How far the relay has published, and when it stores that: at most once an interval while pages keep coming.

Storing the checkpoint after every page took a transaction of its own (BEGIN, the upsert, COMMIT): under
load that was about one page, and three statements, per run. Between stores, a relay that dies only leaves
its successor to publish those pages again, which every consumer tolerates (delivery is at least once and
consumers dedupe by run id and version, invariant 3); nothing is skipped, since a store never runs ahead
of what Kafka acknowledged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from events.feed import FeedPosition, save_checkpoint
from events.pacing import Every
from events.parked import ParkedEvent, park
from events.pg import Connection

CHECKPOINT_NAME = "kafka-relay"


class PacedCheckpoint:
    """The relay's published position (`published`) and its store: after a page at most once every
    `interval_seconds` (0: after every page), and at once when the page parked events, when the relay has
    caught up with the feed, and when it stops leading cleanly."""

    def __init__(
        self, stored: FeedPosition, interval_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.published = stored
        self._stored = stored
        self._every = Every(interval_seconds, clock)

    async def page_published(
        self, connection: Connection, last: FeedPosition, parked: Sequence[ParkedEvent]
    ) -> None:
        """Kafka acknowledged every record of the page ending at `last` but the `parked` ones."""
        self.published = last
        if parked or self._every.due():
            await self._store(connection, parked)

    async def caught_up(self, connection: Connection) -> None:
        """Nothing more to publish for now (or the relay stops): store what waits."""
        if self.published != self._stored:
            await self._store(connection, ())

    async def _store(self, connection: Connection, parked: Sequence[ParkedEvent]) -> None:
        if parked:  # parked events and the checkpoint past them commit together
            async with connection.transaction():
                await park(connection, parked)
                await save_checkpoint(connection, CHECKPOINT_NAME, self.published)
        else:  # one statement: atomic without a transaction of its own
            await save_checkpoint(connection, CHECKPOINT_NAME, self.published)
        self._stored = self.published
