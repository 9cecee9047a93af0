"""Triggers: start one run, or many runs of one journey in one append, each item answered on its own.

Every item either gets a run (new, or the one its idempotency key started before) or a reason; the runs
that are new are appended together in one transaction. Items repeating a run id of the same batch (the
same idempotency key) share the first one's answer when their contexts match.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.conditions import strictly_equal
from domain.decider import StartRefused, decide_start
from domain.run_state import RunState, StoredPatientContext, initial_state
from domain.waits import context_problems
from engine.commands import (
    IdempotencyKeyReused,
    JourneyNotFound,
    LatestJourneys,
    PatientContextUnfit,
    RunAccepted,
    already_started,
)
from engine.ports import RunAppends, RunHeads
from events import tracing
from events.catalogue import Sealed, stamp
from events.store import AppendRequest

log = logging.getLogger(__name__)

ItemOutcome = RunAccepted | PatientContextUnfit | IdempotencyKeyReused


@dataclass(frozen=True)
class BatchItem:
    run_id: UUID
    patient_context: dict[str, Any]
    trace: tracing.TraceContext | None = None  # its request's span, when requests share an append


class ContextsSealer(Protocol):
    """Seals many contexts with their patients' keys at once, and opens stored ones."""

    async def seal_contexts(self, contexts: Sequence[Mapping[str, Any]]) -> list[Sealed]: ...

    async def open_contexts(self, stored: Mapping[UUID, StoredPatientContext]) -> dict[UUID, Any]: ...


async def trigger_runs(
    store: RunAppends,
    heads: RunHeads,
    journeys: LatestJourneys,
    *,
    journey_id: UUID,
    items: Sequence[BatchItem],
    now: datetime,
    sealer: ContextsSealer,
) -> list[ItemOutcome] | JourneyNotFound:
    """Each item's outcome, in order: its run started (or found started), or why it was refused."""
    journey = await journeys.latest(journey_id)
    if journey is None:
        return JourneyNotFound(journey_id)
    outcomes: dict[int, ItemOutcome] = {}
    first: dict[UUID, int] = {}  # run id -> the first fit item asking for it
    for index, item in enumerate(items):
        unfit = context_problems(journey.definition, item.patient_context)
        if unfit:
            outcomes[index] = PatientContextUnfit(tuple(unfit))
        else:
            first.setdefault(item.run_id, index)
    starting = list(first.values())
    if not starting:  # every item unfit: nothing to seal or append
        return [outcomes[index] for index in range(len(items))]
    sealed = await sealer.seal_contexts([items[index].patient_context for index in starting])
    requests = []
    for index, stored in zip(starting, sealed, strict=True):
        run_id = items[index].run_id
        decision = decide_start(
            initial_state(run_id),
            journey_id=journey_id,
            journey_version=journey.version,
            journey=journey.definition,
            patient_context=stored,
        )
        assert not isinstance(decision, StartRefused)  # a run with no events can always start
        stamped = stamp(run_id, 0, decision, now=now, causation_id=None, correlation_id=run_id)
        events = tracing.carrying(items[index].trace, stamped)
        requests.append(AppendRequest(run_id, 0, events))
    appended = await store.append_many(requests)
    if appended.appended:
        log.info("%d runs started on journey %s v%d", len(appended.appended), journey_id, journey.version)
    # A conflict means the run exists: started by an earlier request with the same idempotency key.
    existing = await heads.load([conflict.run_id for conflict in appended.conflicts])
    opened = await sealer.open_contexts({run_id: state.patient_context for run_id, state in existing.items()})
    settled = _Settled(journey_id, journey.version, set(appended.appended), existing, opened)
    for index, item in enumerate(items):
        if index not in outcomes:  # fit: the first item asking for its run, or a repeat of it
            outcomes[index] = settled.answer(item, items[first[item.run_id]], index == first[item.run_id])
    return [outcomes[index] for index in range(len(items))]


async def trigger_run(
    store: RunAppends,
    heads: RunHeads,
    journeys: LatestJourneys,
    *,
    run_id: UUID,
    journey_id: UUID,
    patient_context: dict[str, Any],
    now: datetime,
    sealer: ContextsSealer,
) -> ItemOutcome | JourneyNotFound:
    """Start run `run_id` on the journey's latest version, or find it already started by an earlier try:
    `trigger_runs` with one item."""
    item = BatchItem(run_id, patient_context)
    outcomes = await trigger_runs(
        store, heads, journeys, journey_id=journey_id, items=[item], now=now, sealer=sealer
    )
    return outcomes if isinstance(outcomes, JourneyNotFound) else outcomes[0]


@dataclass(frozen=True)
class _Settled:
    """What the append found: the runs this call started, and the states of those that existed."""

    journey_id: UUID
    journey_version: int
    started: set[UUID]
    existing: Mapping[UUID, RunState]
    opened: Mapping[UUID, Any]

    def answer(self, item: BatchItem, starter: BatchItem, is_starter: bool) -> ItemOutcome:
        """A run started here is the starter item's: a repeat must match its patient. A run that existed
        is compared with its stored patient, for every item asking for it."""
        if item.run_id in self.started:
            if is_starter or strictly_equal(starter.patient_context, item.patient_context):
                return RunAccepted(item.run_id, self.journey_version, created=is_starter)
            return IdempotencyKeyReused(item.run_id)
        state = self.existing.get(item.run_id)
        if state is None:  # not visible to this tenant
            return IdempotencyKeyReused(item.run_id)
        return already_started(state, self.opened[item.run_id], self.journey_id, item.patient_context)
