"""The gapless feed: every committed event, in an order a reader can follow without ever skipping one.

Identity values are taken in insertion order but transactions commit in any order, so a reader that
follows `position` alone can pass over a row that commits later with a smaller position. Instead the feed
orders by (transaction id, position) and only serves rows whose transaction is older than the oldest
transaction still running (`pg_snapshot_xmin(pg_current_snapshot())`): nothing can ever commit behind a
position the feed has served. No table lock, no sleeping on gaps.

`FeedOrder` states that rule once for every table read this way: the events here, the runs listing (by
their RunStarted events) and the audit log, whose rows carry their writer's transaction id too.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from events.catalogue import RecordedEvent
from events.pg import Queryable
from events.stored_rows import EVENT_COLUMNS, recorded_event_from_row


@dataclass(frozen=True, order=True)
class FeedPosition:
    """A place in the feed: after the event at (transaction_id, position)."""

    transaction_id: int
    position: int


FEED_START = FeedPosition(0, 0)


@dataclass(frozen=True)
class FeedOrder:
    """SQL for reading a table in feed order: `alias` names the table in the query, `position` its column
    of insertion order; its `transaction_id` column holds each row's writer (`pg_current_xact_id()`)."""

    alias: str
    position: str

    @property
    def settled(self) -> str:
        """Only rows whose transaction ended before the oldest one still running began."""
        return f"{self.alias}.transaction_id < pg_snapshot_xmin(pg_current_snapshot())"

    def after(self, transaction_parameter: int) -> str:
        """Only rows after the feed position passed as two parameters: transaction id (as text), position."""
        row = f"(${transaction_parameter}::text::xid8, ${transaction_parameter + 1})"
        return f"({self.alias}.transaction_id, {self.alias}.{self.position}) > {row}"

    @property
    def order_by(self) -> str:
        return f"{self.alias}.transaction_id, {self.alias}.{self.position}"


def feed_arguments(after: FeedPosition) -> tuple[str, int]:
    """The two parameters of `FeedOrder.after`."""
    return str(after.transaction_id), after.position


_EVENTS = FeedOrder("events", "position")


@dataclass(frozen=True)
class FeedPage:
    events: list[RecordedEvent]
    last: FeedPosition  # where the next read starts; unchanged when the page is empty


async def read_feed(
    db: Queryable, after: FeedPosition, limit: int, *, writers_locked_out: bool = False
) -> FeedPage:
    """Up to `limit` committed events after `after`, in feed order, decoded."""
    rows, last = await read_feed_rows(db, after, limit, writers_locked_out=writers_locked_out)
    return FeedPage([recorded_event_from_row(row) for row in rows], last)


async def read_feed_rows(
    db: Queryable, after: FeedPosition, limit: int, *, writers_locked_out: bool = False
) -> tuple[list[asyncpg.Record], FeedPosition]:
    """The feed's page as stored rows (EVENT_COLUMNS), for readers that forward payloads undecoded.

    `writers_locked_out`: the caller holds a lock that no appending transaction can be inside of (a
    projection swap), so every visible event is final and the open-transaction horizon need not apply.
    """
    horizon = "" if writers_locked_out else f"AND {_EVENTS.settled}"
    rows = await db.fetch(
        f"""
        SELECT transaction_id::text::bigint AS transaction_number, {EVENT_COLUMNS}
        FROM events
        WHERE {_EVENTS.after(1)} {horizon}
        ORDER BY {_EVENTS.order_by}
        LIMIT $3
        """,
        *feed_arguments(after),
        limit,
    )
    if not rows:
        return [], after
    return rows, FeedPosition(rows[-1]["transaction_number"], rows[-1]["position"])


async def load_checkpoint(db: Queryable, consumer: str) -> FeedPosition:
    row = await db.fetchrow(
        "SELECT transaction_id::text::bigint AS transaction_number, position FROM feed_checkpoints "
        "WHERE consumer = $1",
        consumer,
    )
    return FEED_START if row is None else FeedPosition(row["transaction_number"], row["position"])


async def save_checkpoint(db: Queryable, consumer: str, reached: FeedPosition) -> None:
    await db.execute(
        """
        INSERT INTO feed_checkpoints (consumer, transaction_id, position, updated_at)
        VALUES ($1, $2::text::xid8, $3, now())
        ON CONFLICT (consumer) DO UPDATE
        SET transaction_id = excluded.transaction_id, position = excluded.position, updated_at = now()
        """,
        consumer,
        str(reached.transaction_id),
        reached.position,
    )
