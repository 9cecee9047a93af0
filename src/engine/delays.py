"""The delay projection: a row per sleeping run, indexed on resume_at, written inline with the append.

DelayStarted inserts the row in the same transaction; DelayElapsed, and any event that finishes the run,
deletes it in the same transaction (invariant 4): a timer can be neither lost nor left behind a cancel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from events.catalogue import DelayStarted, RecordedEvent, ends_delay
from events.pg import Connection

TABLE = "delays"
DELAY_SCHEDULED_CHANNEL = "pjs_delays"  # payload: the earliest new resume_at, ISO 8601; a hint for the timer


async def apply(
    connection: Connection, events: Sequence[RecordedEvent], table: str = TABLE, *, notify: bool = True
) -> None:
    last_word: dict[UUID, RecordedEvent] = {}  # per run, the latest event that starts or ends a delay
    for event in events:
        if isinstance(event.event, DelayStarted) or ends_delay(event.event):
            last_word[event.run_id] = event
    started = [event for event in last_word.values() if isinstance(event.event, DelayStarted)]
    ended = [event.run_id for event in last_word.values() if ends_delay(event.event)]
    if ended:
        await connection.execute(f"DELETE FROM {table} WHERE run_id = ANY($1::uuid[])", ended)
    if not started:
        return
    await connection.execute(
        f"""
        INSERT INTO {table} (run_id, node_id, resume_at, started_version)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::int[])
        ON CONFLICT (run_id) DO UPDATE SET node_id = excluded.node_id, resume_at = excluded.resume_at,
            started_version = excluded.started_version
        WHERE {table}.started_version < excluded.started_version
        """,
        [e.run_id for e in started],
        [_node(e) for e in started],
        [_resume_at(e) for e in started],
        [e.version for e in started],
    )
    if not notify:
        return
    earliest = min(_resume_at(e) for e in started)
    await connection.execute("SELECT pg_notify($1, $2)", DELAY_SCHEDULED_CHANNEL, earliest.isoformat())


def _node(event: RecordedEvent) -> str:
    assert isinstance(event.event, DelayStarted)
    return event.event.node_id


def _resume_at(event: RecordedEvent) -> datetime:
    assert isinstance(event.event, DelayStarted)
    return event.event.resume_at
