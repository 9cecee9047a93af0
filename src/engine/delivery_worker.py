"""Message delivery: carries out each MessageRequested once per node visit, then records its outcome.

Per consumed batch: claim every requested (run, node, visit) row in one statement, load the claimed runs'
states in one query, send concurrently with the idempotency key `run:node:visit`, then append every
MessageDelivered / MessageFailed of the batch in one transaction that also marks the rows finished. A
finished row means a redelivered request sends nothing; a crash between send and record re-sends with the
same key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg

from domain.run_state import RunState, RunStatus
from engine.channels import Channel, NotSent, OutgoingMessage, SendOutcome, Sent
from engine.clock import Clock, utc_now
from engine.message_deliveries import OPEN_STATUSES
from engine.run_status import load_states
from events.catalogue import (
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
from events.retry import RetryLater
from events.store import AppendRequest, PostgresEventStore

log = logging.getLogger(__name__)

_RECORD_ATTEMPTS: Final = 20
_APPEND_ROUNDS: Final = 3  # after round 1 the batch holds every run's lock, so round 2 cannot conflict
CANCELLED_BEFORE_SENDING: Final = "the run was cancelled before the message was sent"


@dataclass(frozen=True)
class DeliveryConfig:
    concurrency: int = 16
    lease_seconds: float = 60.0  # a claim younger than this belongs to a worker that may still be sending


@dataclass(frozen=True)
class _Visit:
    """A claimed request and the outcome event to record for it."""

    requested: RecordedEvent
    outcome: RunEvent


class DeliveryWorker:
    """Handles one batch of run events: delivers the MessageRequested among them."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        store: PostgresEventStore,
        channel: Channel,
        config: DeliveryConfig,
        clock: Clock = utc_now,
    ) -> None:
        self._pool = pool
        self._store = store
        self._channel = channel
        self._config = config
        self._clock = clock
        self._slots = asyncio.Semaphore(config.concurrency)

    async def handle(self, events: Sequence[RecordedEvent]) -> None:
        requests = _requests(events)
        if not requests:
            return
        claimed, busy = await self._claim(requests)
        if claimed:
            states = await load_states(self._pool, {r.run_id for r in claimed})
            results = await asyncio.gather(
                *(self._carry_out(r, states.get(r.run_id)) for r in claimed), return_exceptions=True
            )
            done = [
                _Visit(r, o)
                for r, o in zip(claimed, results, strict=True)
                if not isinstance(o, BaseException)
            ]
            if done:
                await self._record(done, {run_id: state.version for run_id, state in states.items()})
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        if busy:
            # Sending now could send twice: retry the batch once the other worker has recorded (or its
            # lease has run out).
            raise RetryLater(f"{busy} visit(s) are being sent by another worker")

    async def _claim(self, requests: Sequence[RecordedEvent]) -> tuple[list[RecordedEvent], int]:
        """Claim every request's row in one statement. Returns (ours to send, count held by others);
        the rest are finished already: a redelivered request sends nothing."""
        lease = timedelta(seconds=self._config.lease_seconds)
        try:
            # Rows are claimed in key order, so two workers claiming overlapping batches cannot deadlock.
            rows = await self._pool.fetch(
                """
                INSERT INTO message_deliveries AS d
                    (run_id, node_id, visit, request_event_id, status, claims, claimed_at)
                SELECT run_id, node_id, visit, request_event_id, 'sending', 1, now()
                FROM unnest($1::uuid[], $2::text[], $3::int[], $4::uuid[])
                     AS t(run_id, node_id, visit, request_event_id)
                ORDER BY run_id, node_id, visit
                ON CONFLICT (run_id, node_id, visit) DO UPDATE
                SET status = 'sending', claims = d.claims + 1, claimed_at = now()
                WHERE d.status = 'requested' OR (d.status = 'sending' AND d.claimed_at < now() - $5::interval)
                RETURNING d.request_event_id
                """,
                [r.run_id for r in requests],
                [_node(r) for r in requests],
                [r.version for r in requests],
                [r.event_id for r in requests],
                lease,
            )
            ours = {row["request_event_id"] for row in rows}
            others = [r.event_id for r in requests if r.event_id not in ours]
            busy = 0
            if others:
                busy = await self._pool.fetchval(
                    "SELECT count(*) FROM message_deliveries"
                    " WHERE request_event_id = ANY($1::uuid[]) AND status = 'sending'",
                    others,
                )
        except asyncpg.TransactionRollbackError as error:  # a deadlock broken by Postgres: nothing claimed
            raise RetryLater(f"claiming deliveries lost a race: {error}") from error
        return [r for r in requests if r.event_id in ours], int(busy)

    async def _carry_out(self, requested: RecordedEvent, state: RunState | None) -> RunEvent:
        async with self._slots:
            if state is not None and state.status is RunStatus.CANCELLED:
                # A cancelled run must not message the patient, even if its request was already queued.
                outcome: SendOutcome = NotSent(reason=CANCELLED_BEFORE_SENDING, attempts=0)
            else:
                outcome = await self._channel.send(_outgoing(requested, state))
            return _outcome_event(_node(requested), outcome)

    async def _record(self, visits: Sequence[_Visit], heads: Mapping[UUID, int]) -> None:
        """Append every outcome of the batch in one transaction; a lost race retries the transaction."""
        for attempt in range(1, _RECORD_ATTEMPTS + 1):
            try:
                async with self._pool.acquire() as connection, connection.transaction():
                    await self._record_in(connection, visits, heads)
                return
            except (AppendRaced, asyncpg.TransactionRollbackError):
                await asyncio.sleep(0.005 * attempt)
        raise RetryLater(f"could not record {len(visits)} delivery outcome(s)")

    async def _record_in(
        self, connection: Connection, visits: Sequence[_Visit], heads: Mapping[UUID, int]
    ) -> None:
        # Locking the rows first means a racing worker (one that took over an expired lease) and we
        # cannot both append an outcome for the same visit: whoever locks second sees it finished.
        still_open = {
            row["request_event_id"]
            for row in await connection.fetch(
                "SELECT request_event_id FROM message_deliveries"
                " WHERE request_event_id = ANY($1::uuid[]) AND status = ANY($2::text[])"
                " ORDER BY run_id, node_id, visit FOR UPDATE",
                [v.requested.event_id for v in visits],
                list(OPEN_STATUSES),
            )
        }
        pending = _by_run(v for v in visits if v.requested.event_id in still_open)
        expected = {run_id: heads.get(run_id, 0) for run_id in pending}
        now = self._clock()
        for _ in range(_APPEND_ROUNDS):
            if not pending:
                return
            requests = [
                AppendRequest(run_id, expected[run_id], _stamped(run_id, expected[run_id], run_visits, now))
                for run_id, run_visits in pending.items()
            ]
            outcome = await self._store.append_many_in(connection, requests)
            # The engine (or the timer, a cancel) appended to these runs since we loaded them. The
            # conflict carries the head read under the run's lock, which this transaction now holds.
            expected.update({c.run_id: c.actual_version for c in outcome.conflicts})
            pending = {c.run_id: pending[c.run_id] for c in outcome.conflicts}
        if pending:
            raise AppendRaced(f"{len(pending)} run(s) kept conflicting")


def _requests(events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
    """The batch's MessageRequested, once each (Kafka may deliver a record twice), in (run, version) order."""
    unique = {e.event_id: e for e in events if isinstance(e.event, MessageRequested)}
    return sorted(unique.values(), key=lambda e: (e.run_id, e.version))


def _by_run(visits: Iterable[_Visit]) -> dict[UUID, list[_Visit]]:
    grouped: dict[UUID, list[_Visit]] = {}
    for visit in visits:
        grouped.setdefault(visit.requested.run_id, []).append(visit)
    return grouped


def _stamped(run_id: UUID, head: int, visits: Sequence[_Visit], now: datetime) -> list[NewEvent]:
    """One outcome per visit at consecutive versions after `head`, each caused by its own request."""
    return [
        stamp(
            run_id,
            head + offset,
            [visit.outcome],
            now=now,
            causation_id=visit.requested.event_id,
            correlation_id=visit.requested.correlation_id,
        )[0]
        for offset, visit in enumerate(visits)
    ]


def _node(requested: RecordedEvent) -> str:
    assert isinstance(requested.event, MessageRequested)
    return requested.event.node_id


def _outgoing(requested: RecordedEvent, state: RunState | None) -> OutgoingMessage:
    assert isinstance(requested.event, MessageRequested)
    patient_id = None if state is None else state.patient_context.get("id")
    return OutgoingMessage(
        run_id=requested.run_id,
        node_id=requested.event.node_id,
        visit=requested.version,
        message=requested.event.message,
        patient_id=None if patient_id is None else str(patient_id),
    )


def _outcome_event(node_id: str, outcome: SendOutcome) -> RunEvent:
    if isinstance(outcome, Sent):
        return MessageDelivered(
            node_id=node_id, provider_message_id=outcome.provider_message_id, attempts=outcome.attempts
        )
    return MessageFailed(node_id=node_id, reason=outcome.reason, attempts=outcome.attempts)
