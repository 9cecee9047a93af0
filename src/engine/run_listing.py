"""Listing runs with filters, by keyset pages that return every run exactly once while runs are added.

Runs are listed in the order their RunStarted events settled in the feed (transaction id, position),
and only once settled: a run whose start commits late can never land behind a cursor already handed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.run_state import RunState, RunStatus
from engine.listing_cursors import decode_cursor, encode_cursor
from engine.run_status import COLUMNS, state_from_row
from events.feed import FeedOrder, FeedPosition, feed_arguments
from events.pg import Queryable

_BIGINT_MAX = 2**63 - 1
_STARTS = FeedOrder("s", "position")  # the runs' RunStarted events


@dataclass(frozen=True)
class RunFilter:
    journey_id: UUID | None = None
    status: RunStatus | None = None
    patient_id: str | None = None
    patient_key_ids: list[UUID] | None = None  # the patient's data keys: how sealed runs are found


@dataclass(frozen=True)
class RunPage:
    runs: list[RunState]
    next_cursor: str | None


def _feed_position(parts: list[str]) -> FeedPosition:
    transaction_id, position = (int(part) for part in parts)
    if not (0 <= transaction_id <= _BIGINT_MAX and 0 <= position <= _BIGINT_MAX):
        raise ValueError("outside the feed")
    return FeedPosition(transaction_id, position)


async def list_runs(db: Queryable, where: RunFilter, limit: int, cursor: str | None = None) -> RunPage:
    after = decode_cursor(cursor, _feed_position) if cursor is not None else FeedPosition(0, 0)
    columns = ", ".join(f"r.{column.strip()}" for column in COLUMNS.split(","))
    rows = await db.fetch(
        f"""
        SELECT {columns}, r.patient_context::text AS context_json,
               s.transaction_id::text::bigint AS started_transaction, s.position AS started_position
        FROM events s JOIN run_status r ON r.run_id = s.run_id
        WHERE s.version = 1 AND {_STARTS.settled} AND {_STARTS.after(1)}
          AND ($3::uuid IS NULL OR r.journey_id = $3)
          AND ($4::text IS NULL OR r.status = $4)
          AND ($5::text IS NULL OR r.patient_id = $5 OR r.patient_key_id = ANY($7::uuid[]))
        ORDER BY {_STARTS.order_by}
        LIMIT $6
        """,
        *feed_arguments(after),
        where.journey_id,
        None if where.status is None else str(where.status),
        where.patient_id,
        limit + 1,
        where.patient_key_ids or [],
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last["started_transaction"], last["started_position"])
    return RunPage([state_from_row(row) for row in page], next_cursor)
