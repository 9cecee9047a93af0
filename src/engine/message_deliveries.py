"""The message_deliveries table: a row per MESSAGE node visit, and the delivery ledger built on it.

The inline projection: MessageRequested inserts the row (visit = its stream version); MessageDelivered /
MessageFailed mark it delivered / failed, matched by causation id (the outcome's cause is the request's
event id). The first outcome wins, so replays and duplicate outcomes change nothing. A provider's receipt
(MessageDelivered from a receipt, MessageBounced; also caused by the request) sets `receipt`, first one wins.

The ledger (`PostgresDeliveryLedger`, the delivery worker's `DeliveryLedger` port) claims rows before a send
and records every outcome of a batch in one transaction with its events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol
from uuid import UUID

import asyncpg

from events import tracing
from events.catalogue import (
    MessageBounced,
    MessageDelivered,
    MessageFailed,
    MessageRequested,
    NewEvent,
    RecordedEvent,
    RunEvent,
    stamp,
)
from events.errors import AppendRaced
from events.pg import Connection
from events.retry import RACE_ERRORS, RetryLater, retry_transient
from events.store import AppendRequest, PostgresEventStore
from events.tenancy import DEFAULT_TENANT_ID
from events.tracing import TraceContext

TABLE = "message_deliveries"
OPEN_STATUSES = ("requested", "sending")


async def apply(connection: Connection, events: Sequence[RecordedEvent], table: str = TABLE) -> None:
    requested = [e for e in events if isinstance(e.event, MessageRequested)]
    outcomes = [e for e in events if _is_send_outcome(e.event) and e.causation_id]
    receipts = [e for e in events if _receipt_of(e.event) is not None and e.causation_id]
    if requested:
        await connection.execute(
            f"""
            INSERT INTO {table} (run_id, node_id, visit, request_event_id, status, tenant_id)
            SELECT run_id, node_id, visit, request_event_id, 'requested', coalesce(tenant_id, $6)
            FROM unnest($1::uuid[], $2::text[], $3::int[], $4::uuid[], $5::uuid[])
                 AS t(run_id, node_id, visit, request_event_id, tenant_id)
            ON CONFLICT DO NOTHING
            """,
            [e.run_id for e in requested],
            [_node(e) for e in requested],
            [e.version for e in requested],
            [e.event_id for e in requested],
            [e.tenant_id for e in requested],
            DEFAULT_TENANT_ID,
        )
    if outcomes:
        await _finish(connection, outcomes, table)
    if receipts:
        # The ids again as `= ANY($1)`, which bounds the scan whatever plan is used (as in `_finish`).
        await connection.execute(
            f"""
            UPDATE {table} AS d SET receipt = r.receipt
            FROM unnest($1::uuid[], $2::text[]) AS r(request_event_id, receipt)
            WHERE d.request_event_id = ANY($1::uuid[]) AND d.request_event_id = r.request_event_id
              AND d.receipt IS NULL
            """,
            [e.causation_id for e in receipts],
            [_receipt_of(e.event) for e in receipts],
        )


def _is_send_outcome(event: RunEvent) -> bool:
    return isinstance(event, MessageFailed) or (
        isinstance(event, MessageDelivered) and event.source == "send"
    )


def _receipt_of(event: RunEvent) -> str | None:
    """'delivered' or 'bounced' for a receipt's event, else None."""
    if isinstance(event, MessageBounced):
        return "bounced"
    if isinstance(event, MessageDelivered) and event.source == "receipt":
        return "delivered"
    return None


async def _finish(connection: Connection, outcomes: Sequence[RecordedEvent], table: str) -> None:
    """Mark every outcome's row finished in one statement; the first outcome of a visit wins."""
    first: dict[object, RecordedEvent] = {}
    for outcome in outcomes:
        first.setdefault(outcome.causation_id, outcome)
    finished = list(first.values())
    # The request ids again as `= ANY($1)`, on the unique index, so they bound the scan whatever plan is
    # used: joined to the unnest alone, a plan made while the table was near empty (cached for the
    # session) hashed every delivery of every run on each batch.
    await connection.execute(
        f"""
        UPDATE {table} AS d
        SET status = o.status, attempts = o.attempts, provider_message_id = o.provider_message_id,
            reason = o.reason, outcome_version = o.outcome_version
        FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::int[])
             AS o(request_event_id, status, attempts, provider_message_id, reason, outcome_version)
        WHERE d.request_event_id = ANY($1::uuid[]) AND d.request_event_id = o.request_event_id
          AND d.status = ANY($7::text[])
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


_RECORD_ATTEMPTS: Final = 20
_APPEND_ROUNDS: Final = 3  # after round 1 the batch holds every run's lock, so round 2 cannot conflict


@dataclass(frozen=True)
class Claims:
    """The requests this worker may send now, and how many others are being sent by another worker."""

    ours: list[RecordedEvent]
    busy_elsewhere: int


@dataclass(frozen=True)
class DeliveryOutcome:
    """A claimed request and the event that records what became of it."""

    requested: RecordedEvent
    outcome: RunEvent
    trace: TraceContext | None = None  # of the send's span, which the outcome event carries


class DeliveryLedger(Protocol):
    """Who sends which (run, node, visit), and the recording of outcomes with their events."""

    async def claim(self, requests: Sequence[RecordedEvent], lease_seconds: float) -> Claims:
        """Claim the requests' rows; finished ones are left out (a redelivered request sends nothing)."""
        ...

    async def record(
        self, outcomes: Sequence[DeliveryOutcome], heads: Mapping[UUID, int], now: datetime
    ) -> None:
        """Append every outcome at its run's head and mark the rows finished, all or nothing."""
        ...


class PostgresDeliveryLedger:
    """The ledger over the message_deliveries table and the event store, in shared transactions."""

    def __init__(self, pool: asyncpg.Pool, store: PostgresEventStore) -> None:
        self._pool = pool
        self._store = store

    async def claim(self, requests: Sequence[RecordedEvent], lease_seconds: float) -> Claims:
        try:
            # Rows are claimed in key order, so two workers claiming overlapping batches cannot deadlock.
            rows = await self._pool.fetch(
                _CLAIM,
                [r.run_id for r in requests],
                [_node(r) for r in requests],
                [r.version for r in requests],
                [r.event_id for r in requests],
                timedelta(seconds=lease_seconds),
            )
            ours = {row["request_event_id"] for row in rows}
            others = [r.event_id for r in requests if r.event_id not in ours]
            busy = 0
            if others:
                # The status is counted, not filtered on: `status = 'sending'` matches the open-deliveries
                # index, which a plan made while the table was near empty then read whole.
                busy = await self._pool.fetchval(
                    "SELECT count(*) FILTER (WHERE status = 'sending') FROM message_deliveries"
                    " WHERE request_event_id = ANY($1::uuid[])",
                    others,
                )
        except asyncpg.TransactionRollbackError as error:  # a deadlock broken by Postgres: nothing claimed
            raise RetryLater(f"claiming deliveries lost a race: {error}") from error
        return Claims([r for r in requests if r.event_id in ours], int(busy))

    async def record(
        self, outcomes: Sequence[DeliveryOutcome], heads: Mapping[UUID, int], now: datetime
    ) -> None:
        async def in_one_transaction() -> None:
            async with self._pool.acquire() as connection, connection.transaction():
                await self._record_in(connection, outcomes, heads, now)

        try:
            await retry_transient(in_one_transaction, attempts=_RECORD_ATTEMPTS, max_wait=0.1)
        except RACE_ERRORS as error:
            raise RetryLater(f"could not record {len(outcomes)} delivery outcome(s)") from error

    async def _record_in(
        self,
        connection: Connection,
        outcomes: Sequence[DeliveryOutcome],
        heads: Mapping[UUID, int],
        now: datetime,
    ) -> None:
        # Locking the rows first means a racing worker (one that took over an expired lease) and we
        # cannot both append an outcome for the same visit: whoever locks second sees it finished.
        still_open = {
            row["request_event_id"]
            for row in await connection.fetch(
                "SELECT request_event_id FROM message_deliveries"
                " WHERE request_event_id = ANY($1::uuid[]) AND status = ANY($2::text[])"
                " ORDER BY run_id, node_id, visit FOR UPDATE",
                [o.requested.event_id for o in outcomes],
                list(OPEN_STATUSES),
            )
        }
        pending = by_run(o for o in outcomes if o.requested.event_id in still_open)
        expected = {run_id: heads.get(run_id, 0) for run_id in pending}
        for _ in range(_APPEND_ROUNDS):
            if not pending:
                return
            requests = [
                AppendRequest(
                    run_id, expected[run_id], stamp_outcomes(run_id, expected[run_id], run_outcomes, now)
                )
                for run_id, run_outcomes in pending.items()
            ]
            appended = await self._store.append_many_in(connection, requests)
            # The engine (or the timer, a cancel) appended to these runs since we loaded them. The
            # conflict carries the head read under the run's lock, which this transaction now holds.
            expected.update({c.run_id: c.actual_version for c in appended.conflicts})
            pending = {c.run_id: pending[c.run_id] for c in appended.conflicts}
        if pending:
            raise AppendRaced(f"{len(pending)} run(s) kept conflicting")


_CLAIM: Final = """
INSERT INTO message_deliveries AS d
    (run_id, node_id, visit, request_event_id, status, claims, claimed_at, tenant_id)
SELECT run_id, node_id, visit, request_event_id, 'sending', 1, now(),
       (SELECT e.tenant_id FROM events e WHERE e.run_id = t.run_id AND e.version = t.visit)
FROM unnest($1::uuid[], $2::text[], $3::int[], $4::uuid[]) AS t(run_id, node_id, visit, request_event_id)
ORDER BY run_id, node_id, visit
ON CONFLICT (run_id, node_id, visit) DO UPDATE
SET status = 'sending', claims = d.claims + 1, claimed_at = now()
WHERE d.status = 'requested' OR (d.status = 'sending' AND d.claimed_at < now() - $5::interval)
RETURNING d.request_event_id
"""


def by_run(outcomes: Iterable[DeliveryOutcome]) -> dict[UUID, list[DeliveryOutcome]]:
    grouped: dict[UUID, list[DeliveryOutcome]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.requested.run_id, []).append(outcome)
    return grouped


def stamp_outcomes(
    run_id: UUID, head: int, outcomes: Sequence[DeliveryOutcome], now: datetime
) -> list[NewEvent]:
    """One outcome per visit at consecutive versions after `head`, each caused by its own request."""
    return [
        tracing.carrying(
            outcome.trace,
            stamp(
                run_id,
                head + offset,
                [outcome.outcome],
                now=now,
                causation_id=outcome.requested.event_id,
                correlation_id=outcome.requested.correlation_id,
            ),
        )[0]
        for offset, outcome in enumerate(outcomes)
    ]
