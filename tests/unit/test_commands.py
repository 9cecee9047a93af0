"""Trigger and cancel on in-memory fakes: refusals are values, retries are idempotent."""

from __future__ import annotations

import uuid

from worker_fixtures import JOURNEY_ID, backend_with_journey, reference_journey, started_run

from domain.run_state import RunStatus
from engine.batch_trigger import BatchItem, trigger_runs
from engine.commands import (
    IdempotencyKeyReused,
    JourneyNotFound,
    RunAccepted,
    RunAlreadyFinished,
    RunCancelAccepted,
    RunNotFound,
    cancel_run,
)
from support.fakes import FakeBackend
from support.journeys import patient
from support.triggers import trigger_run


async def trigger(backend: FakeBackend, run_id: uuid.UUID, context: dict[str, object]) -> object:
    return await trigger_run(
        backend.store,
        backend.heads,
        backend.journeys,
        run_id=run_id,
        journey_id=JOURNEY_ID,
        patient_context=dict(context),
        now=backend.clock(),
        sealer=backend.vault,
    )


async def test_a_trigger_starts_the_run_on_the_latest_journey_version() -> None:
    backend = backend_with_journey()
    backend.journeys.add(JOURNEY_ID, reference_journey())
    run_id = uuid.uuid4()

    accepted = await trigger(backend, run_id, patient())

    assert accepted == RunAccepted(run_id, journey_version=2, created=True)
    assert await backend.types(run_id) == ["RunStarted"]


async def test_a_retried_trigger_finds_its_run_and_starts_nothing_new() -> None:
    backend = backend_with_journey()
    run_id = uuid.uuid4()
    await trigger(backend, run_id, patient())

    retried = await trigger(backend, run_id, patient())

    assert retried == RunAccepted(run_id, journey_version=1, created=False)
    assert await backend.types(run_id) == ["RunStarted"]


async def test_a_reused_key_with_another_patient_is_refused() -> None:
    backend = backend_with_journey()
    run_id = uuid.uuid4()
    await trigger(backend, run_id, patient(patient_id="p-1"))

    assert await trigger(backend, run_id, patient(patient_id="p-2")) == IdempotencyKeyReused(run_id)


async def test_items_asking_for_a_run_that_exists_are_each_compared_with_its_stored_patient() -> None:
    backend = backend_with_journey()
    run_id = uuid.uuid4()
    await trigger(backend, run_id, patient(patient_id="p-1"))
    wrong, retry = BatchItem(run_id, patient(patient_id="p-2")), BatchItem(run_id, patient(patient_id="p-1"))

    outcomes = await trigger_runs(
        backend.store, backend.heads, backend.journeys,
        journey_id=JOURNEY_ID, items=[wrong, retry], now=backend.clock(), sealer=backend.vault,
    )  # fmt: skip

    assert outcomes == [IdempotencyKeyReused(run_id), RunAccepted(run_id, journey_version=1, created=False)]


async def test_items_asking_for_a_run_started_in_the_same_call_must_match_its_first_patient() -> None:
    backend = backend_with_journey()
    run_id = uuid.uuid4()
    first, same, other = (BatchItem(run_id, patient(patient_id=p)) for p in ("p-1", "p-1", "p-2"))

    outcomes = await trigger_runs(
        backend.store, backend.heads, backend.journeys,
        journey_id=JOURNEY_ID, items=[first, same, other], now=backend.clock(), sealer=backend.vault,
    )  # fmt: skip

    assert outcomes == [
        RunAccepted(run_id, journey_version=1, created=True),
        RunAccepted(run_id, journey_version=1, created=False),
        IdempotencyKeyReused(run_id),
    ]
    assert await backend.types(run_id) == ["RunStarted"]


async def test_a_trigger_of_an_unknown_journey_is_refused() -> None:
    backend = FakeBackend()

    assert await trigger(backend, uuid.uuid4(), patient()) == JourneyNotFound(JOURNEY_ID)


async def test_cancel_ends_a_waiting_run_once() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend)

    first = await cancel_run(backend.store, backend.heads, run_id=run_id, reason="moved", now=backend.clock())
    second = await cancel_run(backend.store, backend.heads, run_id=run_id, reason=None, now=backend.clock())

    assert first == RunCancelAccepted(run_id, version=4)
    assert second == RunAlreadyFinished(run_id, RunStatus.CANCELLED)
    assert run_id not in backend.delays.delays


async def test_cancel_of_an_unknown_run_is_refused() -> None:
    backend = FakeBackend()
    run_id = uuid.uuid4()

    assert await cancel_run(
        backend.store, backend.heads, run_id=run_id, reason=None, now=backend.clock()
    ) == (RunNotFound(run_id))
