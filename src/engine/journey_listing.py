"""Listing journeys with their latest version, by keyset pages that return every journey exactly once
while journeys are added.

Journeys are listed in the order their first versions settled, as runs are (engine.run_listing): by the
transaction that saved version 1 (journeys saved before that was recorded come first, oldest first), and
only once settled, so a journey whose creation commits late can never land behind a cursor handed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from uuid import UUID

from engine.journey_repository import JourneySummary
from engine.listing_cursors import decode_cursor, encode_cursor
from events.connection_loss import unavailable_on_connection_loss
from events.feed import FeedOrder
from events.pg import Queryable

_BIGINT_MAX: Final = 2**63 - 1
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_FIRST_VERSIONS: Final = FeedOrder("first", "created_at")


@dataclass(frozen=True, order=True)
class _JourneyKey:
    """A place in the listing: after the journey whose version 1 has this transaction, time and id."""

    transaction_id: int
    created_at: datetime
    journey_id: UUID


_START: Final = _JourneyKey(0, datetime.min.replace(tzinfo=UTC), UUID(int=0))


@dataclass(frozen=True)
class JourneyPage:
    journeys: list[JourneySummary]
    next_cursor: str | None


def _key(parts: list[str]) -> _JourneyKey:
    transaction_id, microseconds, journey_id = parts
    key = _JourneyKey(int(transaction_id), _EPOCH + int(microseconds) * _MICROSECOND, UUID(journey_id))
    if not 0 <= key.transaction_id <= _BIGINT_MAX:
        raise ValueError("outside the feed")
    return key


def _cursor(key: _JourneyKey) -> str:
    return encode_cursor(key.transaction_id, (key.created_at - _EPOCH) // _MICROSECOND, key.journey_id)


async def list_journeys(db: Queryable, limit: int, cursor: str | None = None) -> JourneyPage:
    """Up to `limit` of the tenant's journeys after `cursor`, each with its latest version's name."""
    after = _START if cursor is None else decode_cursor(cursor, _key)
    with unavailable_on_connection_loss("listing journeys"):
        rows = await db.fetch(
            f"""
            SELECT first.journey_id, latest.name, latest.version, latest.created_at,
                   first.transaction_id::text::bigint AS first_transaction, first.created_at AS first_created
            FROM journeys first
            CROSS JOIN LATERAL (
                SELECT name, version, created_at FROM journeys later
                WHERE later.journey_id = first.journey_id ORDER BY version DESC LIMIT 1
            ) latest
            WHERE first.version = 1 AND {_FIRST_VERSIONS.settled}
              AND (first.transaction_id, first.created_at, first.journey_id) > ($1::text::xid8, $2, $3)
            ORDER BY first.transaction_id, first.created_at, first.journey_id
            LIMIT $4
            """,
            str(after.transaction_id),
            after.created_at,
            after.journey_id,
            limit + 1,
        )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = _cursor(
            _JourneyKey(last["first_transaction"], last["first_created"], last["journey_id"])
        )
    journeys = [
        JourneySummary(row["journey_id"], row["name"], row["version"], row["created_at"]) for row in page
    ]
    return JourneyPage(journeys, next_cursor)
