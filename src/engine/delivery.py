"""Message delivery: carries out each MessageRequested once per node visit, then records its outcome.

Claim the (run, node, visit) row, send with the idempotency key `run:node:visit`, then append
MessageDelivered / MessageFailed to the run in the transaction that marks the row finished. A finished row
means a redelivered request sends nothing; a crash between send and record re-sends with the same key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import asyncpg

from engine.channels import Channel, NotSent, OutgoingMessage, SendOutcome, Sent
from engine.consumer import Clock, utc_now
from engine.state import RunState, RunStatus
from events.catalogue import MessageDelivered, MessageFailed, MessageRequested, RecordedEvent, RunEvent, stamp
from events.consumer_group import RetryBatch
from events.store import AppendRaced, AppendRequest, PostgresEventStore
from projections.run_status import load_state

log = logging.getLogger(__name__)

_RECORD_ATTEMPTS: Final = 20
CANCELLED_BEFORE_SENDING: Final = "the run was cancelled before the message was sent"


@dataclass(frozen=True)
class DeliveryConfig:
    concurrency: int = 16
    lease_seconds: float = 60.0  # a claim younger than this belongs to a worker that may still be sending


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
        requests = {e.event_id: e for e in events if isinstance(e.event, MessageRequested)}
        results = await asyncio.gather(*(self._deliver(e) for e in requests.values()), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _deliver(self, requested: RecordedEvent) -> None:
        async with self._slots:
            claimed = await self._claim(requested)
            if claimed is None:
                return  # already delivered or failed: a redelivered request sends nothing
            if not claimed:
                raise RetryBatch(f"run {requested.run_id}: another worker is sending this visit")
            state = await load_state(self._pool, requested.run_id)
            if state.status is RunStatus.CANCELLED:
                # A cancelled run must not message the patient, even if its request was already queued.
                outcome: SendOutcome = NotSent(reason=CANCELLED_BEFORE_SENDING, attempts=0)
            else:
                outcome = await self._channel.send(_outgoing(requested, state))
            await self._record(requested, outcome)

    async def _claim(self, requested: RecordedEvent) -> bool | None:
        """True: ours to send. False: another worker's fresh claim. None: finished already."""
        assert isinstance(requested.event, MessageRequested)
        row = await self._pool.fetchrow(
            """
            INSERT INTO message_deliveries AS d
                (run_id, node_id, visit, request_event_id, status, claims, claimed_at)
            VALUES ($1, $2, $3, $4, 'sending', 1, now())
            ON CONFLICT (run_id, node_id, visit) DO UPDATE
            SET status = 'sending', claims = d.claims + 1, claimed_at = now()
            WHERE d.status = 'requested' OR (d.status = 'sending' AND d.claimed_at < now() - $5::interval)
            RETURNING d.claims
            """,
            requested.run_id,
            requested.event.node_id,
            requested.version,
            requested.event_id,
            timedelta(seconds=self._config.lease_seconds),
        )
        if row is not None:
            return True
        status = await self._pool.fetchval(
            "SELECT status FROM message_deliveries WHERE request_event_id = $1", requested.event_id
        )
        return False if status == "sending" else None

    async def _record(self, requested: RecordedEvent, outcome: SendOutcome) -> None:
        """Append the outcome at the run's head; the engine appends to the same run, so retry on conflict."""
        assert isinstance(requested.event, MessageRequested)
        event = _outcome_event(requested.event.node_id, outcome)
        for _ in range(_RECORD_ATTEMPTS):
            try:
                if await self._record_once(requested, event):
                    return
            except AppendRaced:
                pass
            await asyncio.sleep(0.005)
        raise RetryBatch(f"run {requested.run_id}: could not record a delivery outcome")

    async def _record_once(self, requested: RecordedEvent, event: RunEvent) -> bool:
        async with self._pool.acquire() as connection, connection.transaction():
            status = await connection.fetchval(
                "SELECT status FROM message_deliveries WHERE request_event_id = $1 FOR UPDATE",
                requested.event_id,
            )
            if status not in ("requested", "sending"):
                return True  # a racing worker recorded this visit's outcome first
            head = await connection.fetchval(
                "SELECT version FROM run_status WHERE run_id = $1", requested.run_id
            )
            envelopes = stamp(
                requested.run_id,
                head,
                [event],
                now=self._clock(),
                causation_id=requested.event_id,
                correlation_id=requested.correlation_id,
            )
            outcome = await self._store.append_many_in(
                connection, [AppendRequest(requested.run_id, head, envelopes)]
            )
            return not outcome.conflicts


def _outgoing(requested: RecordedEvent, state: RunState) -> OutgoingMessage:
    assert isinstance(requested.event, MessageRequested)
    patient_id = state.patient_context.get("id")
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
