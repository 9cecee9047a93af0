"""Message delivery: carries out each MessageRequested once per node visit, then records its outcome.

Per consumed batch: claim every requested (run, node, visit) in one go, load the claimed runs' heads, ask
the decider whether each may be sent, open the sealed texts, send each by its channel (the address from the
opened context) concurrently with the idempotency key `run:node:visit`, then
record every MessageDelivered / MessageFailed of the batch in one transaction that also marks the visits
finished. A finished visit means a redelivered request sends nothing; a crash between send and record
re-sends with the same key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from domain.context_fit import ADDRESS_FIELDS
from domain.decider import PATIENT_DATA_UNAVAILABLE, decide_sent, decide_unsent
from domain.run_state import RunState
from engine.channels import Channel, OutgoingMessage
from engine.clock import Clock, utc_now
from engine.message_deliveries import DeliveryLedger, DeliveryOutcome
from engine.ports import PatientContexts, RunHeads, with_open_contexts
from events import tracing
from events.catalogue import MessageFailed, MessageRequested, RecordedEvent, RunEvent
from events.retry import RetryLater

SEND_SPAN = "pjs.delivery.send"


@dataclass(frozen=True)
class DeliveryConfig:
    concurrency: int = 16
    lease_seconds: float = 60.0  # a claim younger than this belongs to a worker that may still be sending


class DeliveryWorker:
    """Handles one batch of run events: delivers the MessageRequested among them."""

    def __init__(
        self,
        heads: RunHeads,
        ledger: DeliveryLedger,
        channel: Channel,
        config: DeliveryConfig,
        clock: Clock = utc_now,
        *,
        contexts: PatientContexts,
    ) -> None:
        self._heads = heads
        self._contexts = contexts
        self._ledger = ledger
        self._channel = channel
        self._config = config
        self._clock = clock
        self._slots = asyncio.Semaphore(config.concurrency)

    async def handle(self, events: Sequence[RecordedEvent]) -> None:
        requests = _requests(events)
        if not requests:
            return
        claims = await self._ledger.claim(requests, self._config.lease_seconds)
        if claims.ours:
            await self._deliver(claims.ours)
        if claims.busy_elsewhere:
            # Sending now could send twice: retry the batch once the other worker has recorded (or its
            # lease has run out).
            raise RetryLater(f"{claims.busy_elsewhere} visit(s) are being sent by another worker")

    async def _deliver(self, claimed: Sequence[RecordedEvent]) -> None:
        contexts = self._contexts.for_batch()  # the messages are sealed with their contexts' keys
        states = await with_open_contexts(contexts, await self._heads.load({r.run_id for r in claimed}))
        texts = await contexts.open_texts({r.event_id: _message(r).message for r in claimed})
        results = await asyncio.gather(
            *(self._carry_out(r, states.get(r.run_id), texts[r.event_id]) for r in claimed),
            return_exceptions=True,
        )
        done = [result for result in results if isinstance(result, DeliveryOutcome)]
        if done:
            heads = {run_id: state.version for run_id, state in states.items()}
            await self._ledger.record(done, heads, self._clock())
        for result in results:
            if isinstance(result, BaseException):
                raise result  # a channel adapter's bug; the other outcomes are recorded already

    async def _carry_out(
        self, requested: RecordedEvent, state: RunState | None, text: str | None
    ) -> DeliveryOutcome:
        # The send is a span of the request's trace; the outcome event carries that span's context.
        with tracing.span(SEND_SPAN, tracing.context_of(requested), run_id=requested.run_id) as trace:
            return DeliveryOutcome(requested, await self._outcome(requested, state, text), trace)

    async def _outcome(self, requested: RecordedEvent, state: RunState | None, text: str | None) -> RunEvent:
        message = _message(requested)
        unsent = decide_unsent(state, message)
        if unsent is not None:
            return unsent
        if text is None:  # its data key was destroyed: the patient was erased
            return MessageFailed(node_id=message.node_id, reason=PATIENT_DATA_UNAVAILABLE, attempts=0)
        async with self._slots:
            return decide_sent(message, await self._channel.send(_outgoing(requested, state, text)))


def _requests(events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
    """The batch's MessageRequested, once each (Kafka may deliver a record twice), in (run, version) order."""
    unique = {e.event_id: e for e in events if isinstance(e.event, MessageRequested)}
    return sorted(unique.values(), key=lambda e: (e.run_id, e.version))


def _message(requested: RecordedEvent) -> MessageRequested:
    assert isinstance(requested.event, MessageRequested)
    return requested.event


def _outgoing(requested: RecordedEvent, state: RunState | None, text: str) -> OutgoingMessage:
    context = None if state is None else state.patient_context
    opened = context if isinstance(context, Mapping) else {}
    patient_id = opened.get("id")
    message = _message(requested)
    address = opened.get(ADDRESS_FIELDS.get(message.channel, ""))
    return OutgoingMessage(
        run_id=requested.run_id,
        node_id=message.node_id,
        visit=requested.version,
        message=text,
        patient_id=None if patient_id is None else str(patient_id),
        channel=message.channel,
        delivery_id=requested.event_id,
        address=address if isinstance(address, str) else None,
        language=message.language,
    )
