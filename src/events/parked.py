"""Parked events: those the relay could not publish because of the record itself, kept with their reason.

The relay writes them in the transaction that moves its checkpoint past them; `list_parked` reads them back
(for `pjs dead-letters`). Only the event's identity and the reason are kept, never its payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from events.pg import Queryable


@dataclass(frozen=True)
class ParkedEvent:
    position: int
    event_id: UUID
    run_id: UUID
    version: int
    type: str
    reason: str
    parked_at: datetime | None = None  # set by the database when the row is written


async def park(db: Queryable, events: Sequence[ParkedEvent]) -> None:
    """Record the events as parked; one parked again (a new leader re-sent the page) keeps its first row."""
    await db.execute(
        """
        INSERT INTO parked_events (position, event_id, run_id, version, type, reason, tenant_id)
        SELECT t.*, (SELECT e.tenant_id FROM events e WHERE e.position = t.position)
        FROM unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::text[])
             AS t(position, event_id, run_id, version, type, reason)
        ON CONFLICT (position) DO NOTHING
        """,
        [event.position for event in events],
        [event.event_id for event in events],
        [event.run_id for event in events],
        [event.version for event in events],
        [event.type for event in events],
        [event.reason for event in events],
    )


async def list_parked(db: Queryable, limit: int = 1000) -> list[ParkedEvent]:
    """The parked events, oldest position first, at most `limit`."""
    rows = await db.fetch(
        "SELECT position, event_id, run_id, version, type, reason, parked_at FROM parked_events"
        " ORDER BY position LIMIT $1",
        limit,
    )
    return [ParkedEvent(**dict(row)) for row in rows]
