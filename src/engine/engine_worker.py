"""The engine worker: feeds wake-ups from the run-events topic to the decider and appends what it decides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final
from uuid import UUID

from domain.decider import decide, decide_too_large
from domain.journey import JourneyDefinition
from domain.run_limits import DEFAULT_RUN_LIMITS, RunLimits
from domain.run_state import RunState
from engine.clock import Clock, utc_now
from engine.message_rendering import MessageRenderer, RunMessages
from engine.ports import (
    JourneyDefinitions,
    PatientContexts,
    RunAppends,
    RunHeads,
    with_open_contexts,
)
from events import tracing
from events.catalogue import RecordedEvent, RunEvent, is_wake_up, stamp
from events.errors import EventTooLarge
from events.retry import RetryLater
from events.store import AppendRequest, BatchOutcome

_MAX_ROUNDS: Final = 10
DECIDE_SPAN: Final = "pjs.engine.decide"


class EngineWorker:
    """Handles one batch of run events: decide for each woken run, append every decision in one go.

    Requested messages are rendered with the opened context and sealed before the append (see
    engine.message_rendering): the decider never renders, and no rendered text is stored in clear.

    A run whose append conflicts was advanced by someone else (another engine, a delivery outcome, a
    cancel): its state is re-read and decided again, which yields nothing if the decision was made already.
    """

    def __init__(
        self,
        heads: RunHeads,
        store: RunAppends,
        journeys: JourneyDefinitions,
        clock: Clock = utc_now,
        limits: RunLimits = DEFAULT_RUN_LIMITS,
        *,
        contexts: PatientContexts,
        default_channel: str = "log",
    ) -> None:
        self._heads = heads
        self._contexts = contexts
        self._default_channel = default_channel
        self._limits = limits
        self._store = store
        self._journeys = journeys
        self._clock = clock
        self.appended = 0

    async def handle(self, events: Sequence[RecordedEvent]) -> None:
        pending = latest_wake_ups(events)
        contexts = self._contexts.for_batch()
        for _ in range(_MAX_ROUNDS):
            if not pending:
                return
            states = await self._heads.load(list(pending))
            requests = await self._decisions(states, pending, contexts)
            if not requests:
                return
            try:
                outcome = await self._store.append_many(requests)
            except EventTooLarge:
                outcome = await self._append_each_failing_the_oversized(requests, states)
            self.appended += sum(len(written) for written in outcome.appended.values())
            pending = {conflict.run_id: pending[conflict.run_id] for conflict in outcome.conflicts}
        raise RetryLater(f"{len(pending)} run(s) kept conflicting")

    async def _append_each_failing_the_oversized(
        self, requests: Sequence[AppendRequest], states: Mapping[UUID, RunState]
    ) -> BatchOutcome:
        """Append run by run; a run whose decision holds an event too large to publish fails instead."""
        outcome = BatchOutcome()
        for request in requests:
            try:
                one = await self._store.append_many([request])
            except EventTooLarge as too_large:
                one = await self._store.append_many(
                    [self._failed(request, states[request.run_id], too_large)]
                )
            outcome.appended.update(one.appended)
            outcome.conflicts.extend(one.conflicts)
        return outcome

    def _failed(self, refused: AppendRequest, state: RunState, too_large: EventTooLarge) -> AppendRequest:
        """The refused decision replaced by the run's failure, at the node of the event too large and in
        the decision's trace."""
        first = refused.events[0]
        node_id = next(
            (
                getattr(e.event, "node_id", None)
                for e in refused.events
                if e.event.type == too_large.event_type
            ),
            state.current_node_id,
        )
        failed = decide_too_large(
            node_id=node_id,
            event_type=too_large.event_type,
            size=too_large.record_bytes,
            limit=too_large.limit,
        )
        stamped = stamp(
            refused.run_id,
            refused.expected_version,
            failed,
            now=self._clock(),
            causation_id=first.causation_id,
            correlation_id=first.correlation_id,
        )
        return AppendRequest(
            refused.run_id, refused.expected_version, tracing.carrying(tracing.context_of(first), stamped)
        )

    async def _decisions(
        self,
        states: Mapping[UUID, RunState],
        wake_ups: Mapping[UUID, RecordedEvent],
        contexts: PatientContexts,
    ) -> list[AppendRequest]:
        now = self._clock()
        deciding = {run_id: s for run_id, s in states.items() if run_id in wake_ups and s.needs_decision}
        opened = await with_open_contexts(contexts, deciding)
        decisions: dict[UUID, list[RunEvent]] = {}
        traces: dict[UUID, tracing.TraceContext | None] = {}
        for run_id, wake_up in wake_ups.items():
            state = opened.get(run_id)
            if state is None:
                continue  # a redelivered or stale wake-up: the run has moved on
            # The decision is a span of the wake-up's trace; the events it appends carry that span's context.
            with tracing.span(DECIDE_SPAN, tracing.context_of(wake_up), run_id=run_id) as trace:
                journey = await self._journey(state)
                decisions[run_id] = decide(journey, state, wake_up.event, now=now, limits=self._limits)
            traces[run_id] = trace
        await self._seal_messages(decisions, opened, MessageRenderer(contexts, self._default_channel))
        return [
            AppendRequest(
                run_id,
                opened[run_id].version,
                tracing.carrying(
                    traces[run_id],
                    stamp(
                        run_id,
                        opened[run_id].version,
                        decided,
                        now=now,
                        causation_id=wake_ups[run_id].event_id,
                        correlation_id=wake_ups[run_id].correlation_id,
                    ),
                ),
            )
            for run_id, decided in decisions.items()
            if decided
        ]

    async def _seal_messages(
        self,
        decisions: dict[UUID, list[RunEvent]],
        states: Mapping[UUID, RunState],
        messages: MessageRenderer,
    ) -> None:
        """Render and seal every decided message of the batch, with one key-store read for all runs."""
        runs = {
            run_id: RunMessages(decided, context, states[run_id].patient_key_id)
            for run_id, decided in decisions.items()
            if isinstance(context := states[run_id].patient_context, Mapping)
        }
        sealed = await messages.seal_requests_many(list(runs.values()))
        decisions.update(zip(runs, sealed, strict=True))

    async def _journey(self, state: RunState) -> JourneyDefinition | None:
        if state.journey_id is None or state.journey_version is None:
            return None
        return await self._journeys.definition(state.journey_id, state.journey_version)


def latest_wake_ups(events: Sequence[RecordedEvent]) -> dict[UUID, RecordedEvent]:
    """Per run, the newest wake-up in the batch: decisions are made against the run's head state anyway."""
    latest: dict[UUID, RecordedEvent] = {}
    for event in events:
        if is_wake_up(event.event) and event.version > getattr(latest.get(event.run_id), "version", 0):
            latest[event.run_id] = event
    return latest
