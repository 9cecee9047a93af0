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
    if outcomes:
        await _finish(connection, outcomes, table)


async def _finish(connection: Connection, outcomes: Sequence[RecordedEvent], table: str) -> None:
    """Mark every outcome's row finished in one statement; the first outcome of a visit wins."""
    first: dict[object, RecordedEvent] = {}
    for outcome in outcomes:
        first.setdefault(outcome.causation_id, outcome)
    finished = list(first.values())
    await connection.execute(
        f"""
        UPDATE {table} AS d
        SET status = o.status, attempts = o.attempts, provider_message_id = o.provider_message_id,
            reason = o.reason, outcome_version = o.outcome_version
        FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::int[])
             AS o(request_event_id, status, attempts, provider_message_id, reason, outcome_version)
        WHERE d.request_event_id = o.request_event_id AND d.status = ANY($7::text[])
        """,
        [e.causation_id for e in finished],
        ["delivered" if isinstance(e.event, MessageDelivered) else "failed" for e in finished],
        [getattr(e.event, "attempts", None) for e in finished],
        [e.event.provider_message_id if isinstance(e.event, MessageDelivered) else None for e in finished],
        [e.event.reason if isinstance(e.event, MessageFailed) else None for e in finished],
        [e.version for e in finished],
        list(OPEN_STATUSES),
    )


def _node(event: RecordedEvent) -> str:
    assert isinstance(event.event, MessageRequested)
    return event.event.node_id
