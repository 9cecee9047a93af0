"""Triggers: start runs of one journey in one append (one run or many), each item answered on its own.

Every item either gets a run (new, or the one its idempotency key started before) or a reason; the runs
that are new are appended together in one transaction. An item asking for a run that existed is compared
with that run's stored patient; one repeating a run started by an earlier item of the same call must match
that item's patient.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.conditions import strictly_equal
from domain.context_fit import context_fit
from domain.decider import StartRefused, decide_start
from domain.run_state import RunState, StoredPatientContext, initial_state
from engine.commands import (
    IdempotencyKeyOfErasedRun,
    IdempotencyKeyReused,
    JourneyNotFound,
    LatestJourneys,
    PatientContextUnfit,
    RunAccepted,
)
from engine.ports import RunAppends, RunHeads
from events import tracing
from events.append_statement import AlongsideWrite
from events.catalogue import stamp
from events.patient_vault import SealedContexts
from events.store import AppendRequest

log = logging.getLogger(__name__)

ItemOutcome = RunAccepted | PatientContextUnfit | IdempotencyKeyReused | IdempotencyKeyOfErasedRun


@dataclass(frozen=True)
class BatchItem:
    run_id: UUID
    patient_context: dict[str, Any]
    trace: tracing.TraceContext | None = None  # its request's span, when requests share an append


AuditStarts = Callable[[Sequence[int]], AlongsideWrite]


class ContextsSealer(Protocol):
    """Seals many contexts with their patients' keys at once, and opens stored ones."""

    async def seal_contexts(self, contexts: Sequence[Mapping[str, Any]]) -> SealedContexts: ...

    async def discard_made_keys(self, key_ids: Collection[UUID]) -> None: ...

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
    audit_starts: AuditStarts | None = None,
) -> list[ItemOutcome] | JourneyNotFound:
    """Each item's outcome, in order: its run started (or found started), or why it was refused.

    `audit_starts`, given the indexes of the items that ask to start a run, makes the audit of those
    starts, written in the append's own statement for the runs it starts."""
    journey = await journeys.latest(journey_id)
    if journey is None:
        return JourneyNotFound(journey_id)
    outcomes: dict[int, ItemOutcome] = {}
    first: dict[UUID, int] = {}  # run id -> the first fit item asking for it
    fit = context_fit(journey.definition)
    for index, item in enumerate(items):
        unfit = fit.problems(item.patient_context, now)
        if unfit:
            outcomes[index] = PatientContextUnfit(tuple(unfit))
        else:
            first.setdefault(item.run_id, index)
    starting = list(first.values())
    if not starting:  # every item unfit: nothing to seal or append
        return [outcomes[index] for index in range(len(items))]
    sealed = await sealer.seal_contexts([items[index].patient_context for index in starting])
    requests = []
    for index, stored in zip(starting, sealed.contexts, strict=True):
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
    audit = () if audit_starts is None else (audit_starts(starting),)
    appended = await store.append_many(requests, alongside=audit)
    await _discard_unused_keys(sealer, sealed, [request.run_id for request in requests], appended.appended)
    if appended.appended:
        log.info("runs started: %d on journey %s v%d", len(appended.appended), journey_id, journey.version)
    # A conflict means the run exists: started by an earlier request with the same idempotency key.
    existing = await heads.load([conflict.run_id for conflict in appended.conflicts])
    opened = await sealer.open_contexts({run_id: state.patient_context for run_id, state in existing.items()})
    settled = _Settled(journey_id, journey.version, set(appended.appended), existing, opened)
    for index, item in enumerate(items):
        if index not in outcomes:  # fit: the first item asking for its run, or a repeat of it
            outcomes[index] = settled.answer(item, items[first[item.run_id]], index == first[item.run_id])
    return [outcomes[index] for index in range(len(items))]


async def _discard_unused_keys(
    sealer: ContextsSealer, sealed: SealedContexts, run_ids: Sequence[UUID], started: Collection[UUID]
) -> None:
    """Delete the keys made here for patients none of whose runs started (each one's run existed already):
    kept, such a key would file the patient with nothing sealed by it, an erased patient known again or one
    a reused Idempotency-Key named. Refusals are values, so the transaction that made it commits."""
    sealed_for = zip(sealed.contexts, run_ids, strict=True)
    used = {stored.key_id for stored, run_id in sealed_for if run_id in started}
    unused = sealed.made_keys - used
    if unused:  # only when a run existed already: starting new runs costs no round trip for this
        await sealer.discard_made_keys(unused)


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
        return _already_started(state, self.opened[item.run_id], self.journey_id, item.patient_context)


def _already_started(
    state: RunState, opened: StoredPatientContext, journey_id: UUID, patient_context: dict[str, Any]
) -> RunAccepted | IdempotencyKeyReused | IdempotencyKeyOfErasedRun:
    """The run this key started earlier: the same journey and patient is that run, else the key is reused.
    An erased run's context cannot be compared, and a retry must not bring the erased patient back."""
    if state.erased:
        return IdempotencyKeyOfErasedRun()
    same_request = (
        state.journey_id == journey_id
        and isinstance(opened, Mapping)
        and strictly_equal(dict(opened), patient_context)
    )
    if not same_request or state.journey_version is None:
        return IdempotencyKeyReused(state.run_id)
    return RunAccepted(state.run_id, state.journey_version, created=False)
