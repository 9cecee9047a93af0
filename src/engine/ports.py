"""The ports the workers and commands depend on: small Protocols with Postgres adapters beside their tables.

Unit tests run the workers against in-memory fakes of these (tests/support/fakes.py); the same behaviour
is checked against the real adapters by the integration suite.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol
from uuid import UUID

from domain.journey import JourneyDefinition
from domain.run_state import RunState, StoredPatientContext, initial_state
from events.append_statement import AlongsideWrite
from events.catalogue import NewEvent, RecordedEvent, Sealed
from events.patient_vault import TextsToSeal
from events.store import AppendRequest, BatchOutcome, ConcurrencyConflict


class RunHeads(Protocol):
    """Each run's head state (the `run_status` table, written in every append's transaction)."""

    async def load(self, run_ids: Collection[UUID]) -> dict[UUID, RunState]:
        """The runs' states; a run that does not exist is absent from the result."""
        ...


async def load_head(heads: RunHeads, run_id: UUID) -> RunState:
    """One run's head; `initial_state` (version 0) when the run does not exist."""
    return (await heads.load([run_id])).get(run_id) or initial_state(run_id)


class RunAppends(Protocol):
    """The part of the event store that writes."""

    async def append(
        self, run_id: UUID, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent] | ConcurrencyConflict: ...

    async def append_many(
        self, requests: Sequence[AppendRequest], *, alongside: Sequence[AlongsideWrite] = ()
    ) -> BatchOutcome: ...


class JourneyDefinitions(Protocol):
    """Immutable journey versions by (id, version); None when a version cannot be had."""

    async def definition(self, journey_id: UUID, version: int) -> JourneyDefinition | None: ...


class PatientContexts(Protocol):
    """Opens stored (sealed) patient contexts in memory (None where the patient was erased), and seals
    and opens the rendered messages that name the patient."""

    async def open_contexts(
        self, stored: Mapping[UUID, StoredPatientContext]
    ) -> dict[UUID, dict[str, Any] | None]: ...

    async def seal_texts_many(self, batch: Sequence[TextsToSeal]) -> list[list[Sealed] | None]: ...

    async def open_texts(self, stored: Mapping[UUID, Sealed | str | None]) -> dict[UUID, str | None]: ...

    def for_batch(self) -> PatientContexts:
        """The same, for one batch's work: each patient key is read once, however often it is used."""
        ...


async def with_open_contexts(
    contexts: PatientContexts, states: Mapping[UUID, RunState]
) -> dict[UUID, RunState]:
    """The states with their patient contexts opened, for the decider or a channel; never stored."""
    opened = await contexts.open_contexts({run_id: s.patient_context for run_id, s in states.items()})
    return {run_id: replace(state, patient_context=opened[run_id]) for run_id, state in states.items()}
