"""The engine: feeds wake-ups from the run-events topic to the decider and appends what it decides."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final, Protocol
from uuid import UUID

import asyncpg

from domain.decider import decide
from domain.journey import JourneyDefinition
from domain.run_state import RunState, RunStatus
from engine.clock import Clock, utc_now
from engine.run_status import load_states
from events.catalogue import RecordedEvent, RunEvent, RunFailed, is_wake_up, stamp
from events.retry import RetryLater
from events.store import AppendRequest, PostgresEventStore

log = logging.getLogger(__name__)

_MAX_ROUNDS: Final = 10


class JourneyLookup(Protocol):
    """Loads one immutable journey version."""

    async def get(self, journey_id: UUID, version: int) -> JourneyDefinition | None: ...


class CachedJourneys:
    """Journey versions never change, so a version found once is kept for the life of the process."""

    def __init__(self, lookup: JourneyLookup) -> None:
        self._lookup = lookup
        self._found: dict[tuple[UUID, int], JourneyDefinition] = {}

    async def get(self, journey_id: UUID, version: int) -> JourneyDefinition | None:
        key = (journey_id, version)
        if key not in self._found:
            journey = await self._lookup.get(journey_id, version)
            if journey is None:
                return None
            self._found[key] = journey
        return self._found[key]


class Engine:
    """Handles one batch of run events: decide for each woken run, append every decision in one go.

    A run whose append conflicts was advanced by someone else (another engine, a delivery outcome, a
    cancel): its state is re-read and decided again, which yields nothing if the decision was made already.
    """

    def __init__(
        self, pool: asyncpg.Pool, store: PostgresEventStore, journeys: JourneyLookup, clock: Clock = utc_now
    ) -> None:
        self._pool = pool
        self._store = store
        self._journeys = CachedJourneys(journeys)
        self._clock = clock
        self.appended = 0

    async def handle(self, events: Sequence[RecordedEvent]) -> None:
        pending = latest_wake_ups(events)
        for _ in range(_MAX_ROUNDS):
            if not pending:
                return
            states = await load_states(self._pool, list(pending))
            requests = await self._decisions(states, pending)
            if not requests:
                return
            outcome = await self._store.append_many(requests)
            self.appended += sum(len(written) for written in outcome.appended.values())
            pending = {conflict.run_id: pending[conflict.run_id] for conflict in outcome.conflicts}
        raise RetryLater(f"{len(pending)} run(s) kept conflicting")

    async def _decisions(
        self, states: Mapping[UUID, RunState], wake_ups: Mapping[UUID, RecordedEvent]
    ) -> list[AppendRequest]:
        now = self._clock()
        requests = []
        for run_id, wake_up in wake_ups.items():
            state = states.get(run_id)
            if state is None or not state.awaiting_decision or state.status is not RunStatus.IN_PROGRESS:
                continue  # a redelivered or stale wake-up: the run has moved on
            decided = await self._decide(state, wake_up.event, now)
            if decided:
                envelopes = stamp(
                    run_id,
                    state.version,
                    decided,
                    now=now,
                    causation_id=wake_up.event_id,
                    correlation_id=wake_up.correlation_id,
                )
                requests.append(AppendRequest(run_id, state.version, envelopes))
        return requests

    async def _decide(self, state: RunState, wake_up: RunEvent, now: datetime) -> list[RunEvent]:
        assert state.journey_id is not None and state.journey_version is not None
        journey = await self._journeys.get(state.journey_id, state.journey_version)
        if journey is None:
            log.error("run %s: journey %s v%s missing", state.run_id, state.journey_id, state.journey_version)
            reason = f"Journey {state.journey_id} version {state.journey_version} is not available."
            return [RunFailed(node_id=state.current_node_id, reason=reason)]
        return decide(journey, state, wake_up, now=now)


def latest_wake_ups(events: Sequence[RecordedEvent]) -> dict[UUID, RecordedEvent]:
    """Per run, the newest wake-up in the batch: decisions are made against the run's head state anyway."""
    latest: dict[UUID, RecordedEvent] = {}
    for event in events:
        if is_wake_up(event.event) and event.version > getattr(latest.get(event.run_id), "version", 0):
            latest[event.run_id] = event
    return latest
