"""The delays table: a row per sleeping run, indexed on resume_at, and the timer's queue built on it.

The inline projection: DelayStarted inserts the row in the same transaction; DelayElapsed, and any event
that finishes the run, deletes it in the same transaction (invariant 4): a timer can be neither lost nor
left behind a cancel. `PostgresDelayQueue` (the timer's `DelayQueue` port) fires due rows in batches.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol
from uuid import UUID

import asyncpg

from domain.run_state import RunState
from engine.run_status import COLUMNS, state_from_row
from events import tracing
from events.catalogue import DelayStarted, RecordedEvent, RunEvent, ends_delay, stamp
from events.errors import CONNECTION_ERRORS
from events.pg import Connection
from events.retry import retry_transient
from events.store import AppendRequest, PostgresEventStore
from events.tenancy import DEFAULT_TENANT_ID
from events.tracing import TraceContext

log = logging.getLogger(__name__)
FIRE_SPAN: Final = "pjs.timer.fire"

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
        INSERT INTO {table} (run_id, node_id, resume_at, started_version, tenant_id)
        SELECT run_id, node_id, resume_at, started_version, coalesce(tenant_id, $6)
        FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::int[], $5::uuid[])
             AS t(run_id, node_id, resume_at, started_version, tenant_id)
        ON CONFLICT (run_id) DO UPDATE SET node_id = excluded.node_id, resume_at = excluded.resume_at,
            started_version = excluded.started_version
        WHERE {table}.started_version < excluded.started_version
        """,
        [e.run_id for e in started],
        [_node(e) for e in started],
        [_resume_at(e) for e in started],
        [e.version for e in started],
        [e.tenant_id for e in started],
        DEFAULT_TENANT_ID,
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


@dataclass(frozen=True)
class DueDelay:
    """A delay found due by the database clock, with its run's head state."""

    state: RunState
    node_id: str
    resume_at: datetime
    fired_at: datetime
    started_event_id: UUID | None
    correlation_id: UUID | None
    started_trace: TraceContext | None = None  # of the span that started the delay, days ago perhaps


@dataclass(frozen=True)
class FiredBatch:
    """How many due rows one batch claimed, and (resume_at, fired_at) of each delay it fired."""

    claimed: int
    fired: list[tuple[datetime, datetime]]


DecideFiring = Callable[[DueDelay], list[RunEvent]]
"""The decider's word on a due delay: the events to append, or [] for a row whose run moved on."""

OnScheduled = Callable[[datetime | None], None]
"""Told of each newly scheduled resume_at (None when it could not be read)."""


class DelayQueue(Protocol):
    """The timer's view of the delays: fire what is due, say when the next is, and tell of new ones."""

    async def fire_due(self, limit: int, decide: DecideFiring) -> FiredBatch:
        """Fire up to `limit` due delays, oldest first, each at its run's head, all or nothing."""
        ...

    async def next_due(self) -> tuple[datetime | None, datetime]:
        """The earliest resume_at (None when no run sleeps) and the queue's clock now."""
        ...

    def listening(self, on_scheduled: OnScheduled) -> AbstractAsyncContextManager[None]:
        """While open, `on_scheduled` hears of new delays (a hint: the timer also polls)."""
        ...


_RACE_ATTEMPTS: Final = 5

_CLAIM_DUE: Final = f"""
SELECT {", ".join(f"r.{column.strip()}" for column in COLUMNS.split(","))},
       r.patient_context::text AS context_json,
       d.node_id AS delay_node_id, d.resume_at AS delay_resume_at, now() AS fired_at,
       e.event_id AS started_event_id, (e.metadata->>'correlation_id')::uuid AS correlation_id,
       e.metadata->>'traceparent' AS traceparent, e.metadata->>'tracestate' AS tracestate
FROM delays d
JOIN run_status r ON r.run_id = d.run_id
LEFT JOIN events e ON e.run_id = d.run_id AND e.version = d.started_version
WHERE d.resume_at <= now()
  AND pg_try_advisory_xact_lock(run_lock_key(d.run_id))  -- a run being written now is skipped, not awaited
ORDER BY d.resume_at
LIMIT $1
FOR UPDATE OF d, r SKIP LOCKED
"""


class PostgresDelayQueue:
    """Due-ness is judged by the database clock only, so a delay never fires early. Each batch is one
    transaction: claim due rows (`SKIP LOCKED`, so several timers share the work), append DelayElapsed at
    each run's head, and let the delays projection delete the rows. A crash rolls the whole batch back."""

    def __init__(self, pool: asyncpg.Pool, store: PostgresEventStore) -> None:
        self._pool = pool
        self._store = store

    async def fire_due(self, limit: int, decide: DecideFiring) -> FiredBatch:
        async def in_one_transaction() -> FiredBatch:
            async with self._pool.acquire() as connection, connection.transaction():
                return await self._fire_in(connection, limit, decide)

        # A run that moved under us rolls the whole batch back: claim again.
        return await retry_transient(in_one_transaction, attempts=_RACE_ATTEMPTS)

    async def _fire_in(self, connection: Connection, limit: int, decide: DecideFiring) -> FiredBatch:
        due = [_due_delay(row) for row in await connection.fetch(_CLAIM_DUE, limit)]
        decided = [(delay, decide(delay)) for delay in due]
        orphans = [delay.state.run_id for delay, events in decided if not events]
        if orphans:  # cannot happen while the projections hold; never let such a row block the queue
            log.warning("timer: dropping %d delay row(s) whose run is not waiting there", len(orphans))
            await connection.execute("DELETE FROM delays WHERE run_id = ANY($1::uuid[])", orphans)
        firing = [(delay, events) for delay, events in decided if events]
        if not firing:
            return FiredBatch(len(due), [])
        requests = [_append_request(delay, events) for delay, events in firing]
        outcome = await self._store.append_many_in(connection, requests)
        # A conflicting run keeps its row (nothing was appended for it); the next batch claims it again.
        fired = [(d.resume_at, d.fired_at) for d, _ in firing if d.state.run_id in outcome.appended]
        return FiredBatch(len(due), fired)

    async def next_due(self) -> tuple[datetime | None, datetime]:
        row = await self._pool.fetchrow(
            "SELECT min(resume_at) AS next_due, clock_timestamp() AS now FROM delays"
        )
        assert row is not None
        return row["next_due"], row["now"]

    @asynccontextmanager
    async def listening(self, on_scheduled: OnScheduled) -> AsyncIterator[None]:
        def on_notify(_connection: Connection, _pid: int, _channel: str, payload: object) -> None:
            try:
                on_scheduled(datetime.fromisoformat(str(payload)))
            except ValueError:
                on_scheduled(None)

        async with self._pool.acquire() as listener:
            await listener.add_listener(DELAY_SCHEDULED_CHANNEL, on_notify)
            try:
                yield
            finally:
                with suppress(*CONNECTION_ERRORS):
                    await listener.remove_listener(DELAY_SCHEDULED_CHANNEL, on_notify)


def _due_delay(row: asyncpg.Record) -> DueDelay:
    return DueDelay(
        state=state_from_row(row),
        node_id=row["delay_node_id"],
        resume_at=row["delay_resume_at"],
        fired_at=row["fired_at"],
        started_event_id=row["started_event_id"],
        correlation_id=row["correlation_id"],
        started_trace=None
        if row["traceparent"] is None
        else TraceContext(row["traceparent"], row["tracestate"]),
    )


def _append_request(delay: DueDelay, events: Sequence[RunEvent]) -> AppendRequest:
    head = delay.state.version
    envelopes = stamp(
        delay.state.run_id,
        head,
        events,
        now=delay.fired_at,
        causation_id=delay.started_event_id,
        correlation_id=delay.correlation_id,
    )
    # The firing continues the trace of the event that started the delay, however long ago that was.
    with tracing.span(FIRE_SPAN, delay.started_trace, run_id=delay.state.run_id) as trace:
        events_traced = tracing.carrying(trace, envelopes)
        # The state was read with the claim, from the run's status row: its new row is folded onto it.
        return AppendRequest(delay.state.run_id, head, events_traced, prior=delay.state)
