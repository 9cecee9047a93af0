"""The Postgres event store: optimistic appends (one run or many in one transaction) and stream reads.

Appends never take a table lock. `(run_id, version)` is unique, every append states the version it expects,
and a run whose head moved on is reported as a `ConcurrencyConflict` value. Inline projections (the delay
table, run status) run inside the same transaction, so they can never disagree with the events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import orjson

from events import tracing
from events.append_checks import validated_payloads
from events.append_statement import AlongsideWrite, ProjectsAlongside, append_statement
from events.catalogue import NewEvent, RecordedEvent
from events.codec import schema_version, type_name
from events.connection_loss import unavailable_on_connection_loss
from events.errors import AppendRaced
from events.event_size import DEFAULT_MAX_EVENT_BYTES
from events.pg import Connection, Queryable, in_transaction, transaction
from events.retry import RACE_ERRORS, retry_transient
from events.run_locks import run_lock_key
from events.store_metrics import APPEND_SECONDS, APPENDED_EVENTS
from events.stored_rows import EVENT_COLUMNS, recorded_event_from_fields, recorded_event_from_row
from events.tenancy import DEFAULT_TENANT_ID

EVENTS_APPENDED_CHANNEL = "pjs_events"
APPEND_SPAN = "pjs.store.append"

InlineProjection = Callable[[Connection, Sequence[RecordedEvent]], Awaitable[None]]
"""Runs inside the append transaction with the events just written (all runs of the batch)."""


@dataclass(frozen=True)
class ConcurrencyConflict:
    """The run's head is not the version the append expected: someone else advanced it first."""

    run_id: UUID
    expected_version: int
    actual_version: int


@dataclass(frozen=True)
class AppendRequest:
    """`tenant_id` names a new run's tenant; a run's later events always go to the tenant it started in."""

    run_id: UUID
    expected_version: int
    events: Sequence[NewEvent]
    tenant_id: UUID | None = None
    prior: object | None = None
    """The caller's state of the run at `expected_version`, when it read one (a `RunState`): an inline
    projection may fold the events onto it instead of reading its row again. The store never looks at it."""


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch append did: the events written per run, and the runs refused for a stale version."""

    appended: dict[UUID, list[RecordedEvent]] = field(default_factory=dict)
    conflicts: list[ConcurrencyConflict] = field(default_factory=list)


class EventStore(Protocol):
    """The port run streams are appended to and read from.

    A malformed or oversized append raises `AppendRejected` (`EventTooLarge`) with nothing written; a lost
    store raises `StoreUnavailable`.
    """

    async def append(
        self, run_id: UUID, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent] | ConcurrencyConflict: ...

    async def append_many(
        self, requests: Sequence[AppendRequest], *, alongside: Sequence[AlongsideWrite] = ()
    ) -> BatchOutcome: ...

    async def read_stream(
        self, run_id: UUID, after_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]: ...

    async def head_version(self, run_id: UUID) -> int: ...


class PostgresEventStore:
    """Appends and reads run streams in Postgres."""

    def __init__(
        self,
        pool: Queryable,
        inline_projections: Sequence[InlineProjection] = (),
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._pool = pool
        self._inline_projections = tuple(inline_projections)
        self._alongside_projections = [
            (index, project)
            for index, project in enumerate(self._inline_projections)
            if isinstance(project, ProjectsAlongside)
        ]
        self._max_event_bytes = max_event_bytes

    async def append(
        self, run_id: UUID, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent] | ConcurrencyConflict:
        """Append events to one run if its head is still `expected_version`."""
        outcome = await self.append_many([AppendRequest(run_id, expected_version, events)])
        return outcome.conflicts[0] if outcome.conflicts else outcome.appended[run_id]

    async def append_many(
        self, requests: Sequence[AppendRequest], *, alongside: Sequence[AlongsideWrite] = ()
    ) -> BatchOutcome:
        """Append to many runs in one transaction; a stale run is a conflict, the others still commit.
        `alongside` are the caller's writes on the runs this append writes, in its own statement."""
        with tracing.batch_span(APPEND_SPAN, (e for request in requests for e in request.events)):
            return await self._append_many(requests, alongside)

    async def _append_many(
        self, requests: Sequence[AppendRequest], alongside: Sequence[AlongsideWrite]
    ) -> BatchOutcome:
        rows = _rows_for(requests, self._max_event_bytes)

        async def attempt() -> BatchOutcome:
            async with transaction(self._pool) as connection:
                return await self._append_rows(connection, requests, rows, alongside)

        # A lost race (AppendRaced, a broken deadlock) is checked again in a new transaction. A lost
        # connection is the caller's StoreUnavailable: if it was lost during COMMIT, the caller's retry
        # finds the head moved (a conflict), never a duplicate.
        # Inside the caller's transaction (the API's) there is no savepoint and no retry: a head written
        # behind it stays behind its transaction id however often the check is made again, so a lost race
        # is the caller's to retry whole (the API answers 503; a retry with the same key is idempotent).
        with unavailable_on_connection_loss("append"), APPEND_SECONDS.time():
            if in_transaction(self._pool):
                outcome = await self._append_rows(self._pool, requests, rows, alongside)
            else:
                outcome = await retry_transient(attempt, retry_on=RACE_ERRORS)
        APPENDED_EVENTS.inc(sum(len(events) for events in outcome.appended.values()))
        return outcome

    async def append_many_in(self, connection: Connection, requests: Sequence[AppendRequest]) -> BatchOutcome:
        """`append_many` inside the caller's open transaction, for work that must commit with the events
        (the timer deletes the delay rows it fires). No retry here: on `AppendRaced` the caller rolls back
        and retries its whole transaction; connection errors reach the caller as asyncpg raised them."""
        with tracing.batch_span(APPEND_SPAN, (e for request in requests for e in request.events)):
            rows = _rows_for(requests, self._max_event_bytes)
            outcome = await self._append_rows(connection, requests, rows, ())
        APPENDED_EVENTS.inc(sum(len(events) for events in outcome.appended.values()))
        return outcome

    async def _append_rows(
        self,
        connection: Connection,
        requests: Sequence[AppendRequest],
        rows: _Rows,
        callers_writes: Sequence[AlongsideWrite],
    ) -> BatchOutcome:
        projected = {
            index: write
            for index, project in self._alongside_projections
            if (write := project.alongside(requests)) is not None
        }
        writes = [*projected.values(), *callers_writes]
        try:
            conflicts, written = await _append_events(connection, requests, rows, writes)
            for index, project in enumerate(self._inline_projections):
                if index not in projected:
                    await project(connection, written)
        except (asyncpg.UniqueViolationError, asyncpg.TransactionRollbackError) as error:
            raise AppendRaced(str(error)) from error
        appended: dict[UUID, list[RecordedEvent]] = {}
        for event in written:
            appended.setdefault(event.run_id, []).append(event)
        return BatchOutcome(appended, conflicts)

    async def read_stream(
        self, run_id: UUID, after_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The run's events with version > after_version, in version order (at most `limit`)."""
        with unavailable_on_connection_loss("read_stream"):
            rows = await self._pool.fetch(
                f"SELECT {EVENT_COLUMNS} FROM events"
                " WHERE run_id = $1 AND version > $2 ORDER BY version LIMIT $3",
                run_id,
                after_version,
                limit,
            )
        return [recorded_event_from_row(row) for row in rows]

    async def head_version(self, run_id: UUID) -> int:
        """The version of the run's last event; 0 for a run with none."""
        with unavailable_on_connection_loss("head_version"):
            version = await self._pool.fetchval("SELECT max(version) FROM events WHERE run_id = $1", run_id)
        return int(version or 0)


@dataclass(frozen=True)
class _Rows:
    """Column arrays for one multi-row INSERT ... SELECT FROM unnest(...)."""

    events: tuple[NewEvent, ...]
    payloads: tuple[str, ...]
    metadata: tuple[str, ...]


def _rows_for(requests: Sequence[AppendRequest], max_event_bytes: int) -> _Rows:
    """Validate every event before any transaction starts, and encode it once."""
    trace = tracing.current()
    if trace is not None:  # an event a worker gave no trace context of its own carries the append's span's
        requests = [replace(request, events=tracing.filled(request.events, trace)) for request in requests]
    payloads = validated_payloads(requests, max_event_bytes)
    events = [event for request in requests for event in request.events]
    metadata = tuple(
        orjson.dumps(
            {
                "causation_id": _str_or_none(event.causation_id),
                "correlation_id": _str_or_none(event.correlation_id),
                **tracing.metadata(event),
            }
        ).decode()
        for event in events
    )
    return _Rows(tuple(events), payloads, metadata)


def _str_or_none(value: UUID | None) -> str | None:
    return None if value is None else str(value)


async def _append_events(
    connection: Connection, requests: Sequence[AppendRequest], rows: _Rows, writes: Sequence[AlongsideWrite]
) -> tuple[list[ConcurrencyConflict], list[RecordedEvent]]:
    """Take each run's write lock (`events.run_locks`), compare its head with what the append expects and
    insert the events of every run whose head matches: one round trip, the SQL function `append_events`
    (migration 0023). A run whose head moved on is a `ConcurrencyConflict`, and its events are not written.

    Feed readers order events by transaction id, so a run's head written by a transaction with a *later*
    id (it committed while we were open) would be read after our events: the function refuses that with
    serialization_failure, which `_append_rows` turns into `AppendRaced` (tried again in a new
    transaction). A new run's tenant is the one its request names, else the transaction's (the API binds
    every caller's), else the default one. `writes` go in the same statement (`events.append_statement`).
    """
    statement, args = append_statement(_append_args(requests, rows), writes)
    records = await connection.fetch(statement, *args)
    expected = {request.run_id: request.expected_version for request in requests}
    conflicts = [
        ConcurrencyConflict(record["out_run_id"], expected[record["out_run_id"]], record["head_version"])
        for record in records
        if record["out_event_id"] is None
    ]
    stored = {record["out_event_id"]: record for record in records if record["out_event_id"] is not None}
    # Not validated again: every field but the two the insert answered was checked before the transaction
    # (`_rows_for`), and validating the envelopes anew cost more than the rest of building them.
    written = [
        recorded_event_from_fields(
            {
                **event.__dict__,
                "position": stored[event.event_id]["out_position"],
                "tenant_id": stored[event.event_id]["out_tenant_id"],
            }
        )
        for event in rows.events
        if event.event_id in stored
    ]
    return conflicts, written


def _append_args(requests: Sequence[AppendRequest], rows: _Rows) -> list[Any]:
    """`append_events`' arguments, in order."""
    run_ids = [request.run_id for request in requests]
    keys = sorted({run_lock_key(run_id) for run_id in run_ids})  # in key order: batches never deadlock
    return [
        run_ids,
        [request.expected_version for request in requests],
        [request.tenant_id for request in requests],
        keys,
        [e.event_id for e in rows.events],
        [e.run_id for e in rows.events],
        [e.version for e in rows.events],
        [type_name(e.event) for e in rows.events],
        [schema_version(e.event) for e in rows.events],
        list(rows.payloads),
        list(rows.metadata),
        [e.recorded_at for e in rows.events],
        DEFAULT_TENANT_ID,
        EVENTS_APPENDED_CHANNEL,
    ]
