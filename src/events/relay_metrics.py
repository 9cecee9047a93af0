"""The relay's Prometheus metrics: events published, and how far the outbox is ahead of Kafka."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter, Gauge

from events.feed import FeedPosition
from events.pacing import Every
from events.pg import Queryable

PUBLISHED_EVENTS = Counter("pjs_relay_published_events", "Events the relay published to Kafka.")
RELAY_LAG_EVENTS = Gauge(
    "pjs_relay_lag_events",
    "Newest event's position minus the last published position (0 when nothing waits to be published).",
    multiprocess_mode="mostrecent",  # only the leading relay sets it
)
RELAY_LAG_SECONDS = Gauge(
    "pjs_relay_lag_seconds",
    "How long the oldest event not yet published has waited in the outbox (0 when none waits).",
    multiprocess_mode="mostrecent",
)


@dataclass(frozen=True)
class RelayLag:
    events: int
    seconds: float


CAUGHT_UP = RelayLag(0, 0.0)


def relay_lag(
    newest_position: int | None,
    published: FeedPosition,
    oldest_unpublished_at: datetime | None,
    now: datetime,
) -> RelayLag:
    """The outbox's lead over Kafka; positions are identity values, so the count is an upper bound (gaps
    of rolled-back appends count too) and nothing waits once the feed has no event after `published`."""
    if oldest_unpublished_at is None or newest_position is None:
        return CAUGHT_UP
    return RelayLag(
        events=max(newest_position - published.position, 1),
        seconds=max((now - oldest_unpublished_at).total_seconds(), 0.0),
    )


class RelayLagProbe:
    """Measures the relay's lag at most once per `every_seconds` (a query on the relay's connection)."""

    def __init__(self, every_seconds: float = 1.0) -> None:
        self._every = Every(every_seconds)

    async def observe(self, db: Queryable, published: FeedPosition) -> None:
        if not self._every.due():
            return
        # The first committed event after the checkpoint in feed order (events_feed_order index), even one
        # the feed does not serve yet because an older transaction is still open.
        row = await db.fetchrow(
            """
            SELECT (SELECT max(position) FROM events) AS newest,
                   (SELECT recorded_at FROM events
                    WHERE (transaction_id, position) > ($1::text::xid8, $2)
                    ORDER BY transaction_id, position LIMIT 1) AS oldest_unpublished_at,
                   now() AS now
            """,
            str(published.transaction_id),
            published.position,
        )
        assert row is not None
        lag = relay_lag(row["newest"], published, row["oldest_unpublished_at"], row["now"])
        RELAY_LAG_EVENTS.set(lag.events)
        RELAY_LAG_SECONDS.set(lag.seconds)
