"""The engine worker on in-memory fakes: wake-ups become the decider's events, once, even under races."""

from __future__ import annotations

import uuid
from uuid import UUID

from worker_fixtures import backend_with_journey, engine, started_run

from domain.decider import PATIENT_DATA_UNAVAILABLE
from engine.engine_worker import EngineWorker, latest_wake_ups
from engine.timer import Timer, TimerConfig
from events.catalogue import (
    DelayElapsed,
    RecordedEvent,
    RunFailed,
    RunStarted,
    Sealed,
)
from support.fakes import FoldedRunHeads
from support.journeys import patient
from support.races import DeliveryRacingTheEngine
from support.runs import T0, envelopes, message, run_started


def recorded(run_id: UUID, expected: int, *events: object) -> list[RecordedEvent]:
    return [
        RecordedEvent(**dict(e), position=e.version)
        for e in envelopes(run_id, expected, list(events))  # type: ignore[arg-type]
    ]


def test_only_the_newest_wake_up_of_each_run_is_kept() -> None:
    run_a, run_b = uuid.uuid4(), uuid.uuid4()
    elapsed = DelayElapsed(node_id="wait", resume_at=T0, fired_at=T0)
    batch = [
        *recorded(run_a, 0, run_started(), message()),
        *recorded(run_b, 0, run_started()),
        *recorded(run_a, 2, elapsed),
    ]

    latest = latest_wake_ups(batch)

    assert {run_id: event.version for run_id, event in latest.items()} == {run_a: 3, run_b: 1}


async def test_a_started_run_is_walked_to_its_first_delay() -> None:
    backend = backend_with_journey()

    run_id = await started_run(backend)

    assert await backend.types(run_id) == ["RunStarted", "MessageRequested", "DelayStarted"]


async def test_a_redelivered_wake_up_decides_nothing_more() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend)

    await engine(backend).handle(await backend.stream(run_id))

    assert await backend.types(run_id) == ["RunStarted", "MessageRequested", "DelayStarted"]


async def test_a_run_whose_journey_version_is_gone_fails_with_a_reason() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend, decided=False)
    backend.journeys.versions.clear()

    await engine(backend).handle(await backend.stream(run_id))

    last = (await backend.stream(run_id))[-1].event
    assert isinstance(last, RunFailed)
    assert last.reason is not None and "is not available" in last.reason


async def test_a_run_advanced_by_someone_else_meanwhile_is_decided_again_on_its_new_head() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend)
    backend.clock.advance(60)
    await Timer(backend.delays, TimerConfig()).fire_due()
    heads = DeliveryRacingTheEngine(FoldedRunHeads(backend.store), backend.store, "welcome")
    worker = EngineWorker(heads, backend.store, backend.journeys, backend.clock, contexts=backend.vault)

    await worker.handle(await backend.stream(run_id))

    assert heads.raced
    assert (await backend.types(run_id))[3:] == [
        "DelayElapsed",
        "MessageDelivered",
        "MessageRequested",
        "RunCompleted",
    ]


async def test_the_trigger_appends_the_context_sealed_and_the_engine_still_walks_the_run() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend)

    stream = await backend.stream(run_id)
    started = stream[0].event
    assert isinstance(started, RunStarted) and isinstance(started.patient_context, Sealed)
    assert await backend.types(run_id) == ["RunStarted", "MessageRequested", "DelayStarted"]


async def test_a_run_whose_patient_was_erased_before_the_engine_decided_fails_without_a_branch() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend, decided=False)
    backend.vault.destroy(patient()["id"])

    await engine(backend).handle(await backend.stream(run_id))

    last = (await backend.stream(run_id))[-1].event
    assert await backend.types(run_id) == ["RunStarted", "RunFailed"]
    assert isinstance(last, RunFailed) and last.reason == PATIENT_DATA_UNAVAILABLE
