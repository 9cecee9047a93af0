"""The message_deliveries projection: a row per MESSAGE node visit, finished inline with its outcome event.

MessageRequested inserts the row (visit = its stream version); MessageDelivered / MessageFailed mark it
delivered / failed, matched by causation id (the outcome's cause is the request's event id). The first
outcome wins, so replays and duplicate outcomes change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from events.catalogue import MessageDelivered, MessageFailed, MessageRequested, RecordedEvent
from events.pg import Connection

TABLE = "message_deliveries"
OPEN_STATUSES = ("requested", "sending")


async def apply(connection: Connection, events: Sequence[RecordedEvent], table: str = TABLE) -> None:
    requested = [e for e in events if isinstance(e.event, MessageRequested)]
    outcomes = [e for e in events if isinstance(e.event, MessageDelivered | MessageFailed) and e.causation_id]
    if requested:
        await connection.execute(
            f"""
            INSERT INTO {table} (run_id, node_id, visit, request_event_id, status)
            SELECT run_id, node_id, visit, request_event_id, 'requested'
            FROM unnest($1::uuid[], $2::text[], $3::int[], $4::uuid[])
                 AS t(run_id, node_id, visit, request_event_id)
            ON CONFLICT DO NOTHING
            """,
            [e.run_id for e in requested],
            [_node(e) for e in requested],
            [e.version for e in requested],
            [e.event_id for e in requested],
        )
    for outcome in outcomes:
        await _finish(connection, outcome, table)


async def _finish(connection: Connection, outcome: RecordedEvent, table: str) -> None:
    event = outcome.event
    delivered = isinstance(event, MessageDelivered)
    await connection.execute(
        f"""
        UPDATE {table} SET status = $2, attempts = $3, provider_message_id = $4, reason = $5,
                           outcome_version = $6
        WHERE request_event_id = $1 AND status = ANY($7::text[])
        """,
        outcome.causation_id,
        "delivered" if delivered else "failed",
        getattr(event, "attempts", None),
        event.provider_message_id if isinstance(event, MessageDelivered) else None,
        event.reason if isinstance(event, MessageFailed) else None,
        outcome.version,
        list(OPEN_STATUSES),
    )


def _node(event: RecordedEvent) -> str:
    assert isinstance(event.event, MessageRequested)
    return event.event.node_id
