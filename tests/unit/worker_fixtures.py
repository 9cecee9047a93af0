"""Shared set-up for the fake-backed worker tests: a reference journey and a run started on it."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from domain.journey import JourneyDefinition
from domain.validation import validate_journey
from engine.commands import RunAccepted
from engine.engine_worker import EngineWorker
from support.fakes import FakeBackend
from support.journeys import delay, message, patient
from support.triggers import trigger_run

JOURNEY_ID = UUID("00000000-0000-4000-8000-00000000f00d")


def reference_journey() -> JourneyDefinition:
    """welcome -> wait 60 s -> reminder -> end."""
    parsed = validate_journey(
        {
            "name": "Pre-op",
            "start_node_id": "welcome",
            "nodes": [message("welcome", "wait"), delay("wait", 60, "reminder"), message("reminder")],
        }
    )
    assert isinstance(parsed, JourneyDefinition), parsed
    return parsed


def backend_with_journey() -> FakeBackend:
    backend = FakeBackend()
    backend.journeys.add(JOURNEY_ID, reference_journey())
    return backend


async def started_run(
    backend: FakeBackend, *, decided: bool = True, context: dict[str, Any] | None = None
) -> UUID:
    """Trigger a run (of `context`, else `patient()`); with `decided`, let the engine take it to its first
    delay."""
    accepted = await trigger_run(
        backend.store,
        backend.heads,
        backend.journeys,
        run_id=uuid.uuid4(),
        journey_id=JOURNEY_ID,
        patient_context=patient() if context is None else context,
        now=backend.clock(),
        sealer=backend.vault,
    )
    assert isinstance(accepted, RunAccepted)
    if decided:
        await engine(backend).handle(await backend.stream(accepted.run_id))
    return accepted.run_id


def engine(backend: FakeBackend) -> EngineWorker:
    return EngineWorker(backend.heads, backend.store, backend.journeys, backend.clock, contexts=backend.vault)
