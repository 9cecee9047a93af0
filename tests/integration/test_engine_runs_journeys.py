"""The engine drives runs through their journeys: messages, branches, delays, cancels, many runs at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from domain.decider import PATIENT_DATA_UNAVAILABLE
from domain.run_state import FINISHED_STATUSES, RunState, RunStatus
from engine.ports import load_head
from engine.run_status import PostgresRunHeads
from events.catalogue import ConditionEvaluated, DelayStarted, RecordedEvent, RunCompleted, RunFailed
from events.patient_keys import PostgresPatientKeys
from events.tenancy import DEFAULT_TENANT_ID
from pjs.settings import Settings
from pjs.wiring import event_store, key_ring, patient_vault
from support.delays import cancel, fired_counts
from support.journeys import (
    assert_well_formed,
    branch,
    delay,
    message,
    patient,
    save_journey,
    start_run,
    types,
)
from support.roles import eventually, in_process

ROLES = ("relay", "engine", "timer")


async def finished(pool: asyncpg.Pool, run_id: UUID, seconds: float = 20) -> list[RecordedEvent]:
    async def done() -> RunState | None:
        state = await load_head(PostgresRunHeads(pool), run_id)
        return state if state.status in FINISHED_STATUSES else None

    await eventually(done, seconds=seconds)
    stream = await event_store(pool).read_stream(run_id)
    assert_well_formed(stream)
    return stream


async def test_a_linear_journey_completes(settings: Settings, pool: asyncpg.Pool) -> None:
    journey_id, journey = await save_journey(pool, "hello", message("hello", "reminder"), message("reminder"))
    async with in_process(settings, *ROLES):
        run_id = await start_run(event_store(pool), journey_id, journey, patient())
        stream = await finished(pool, run_id)

    assert types(stream) == ["RunStarted", "MessageRequested", "MessageRequested", "RunCompleted"]
    assert [getattr(e.event, "node_id", None) for e in stream[1:3]] == ["hello", "reminder"]


async def test_a_branch_goes_each_way_by_the_patients_age(settings: Settings, pool: asyncpg.Pool) -> None:
    journey_id, journey = await save_journey(
        pool, "age", branch("age", "age", ">", 65, "leaflet", "tips"), message("leaflet"), message("tips")
    )
    async with in_process(settings, *ROLES):
        older = await start_run(event_store(pool), journey_id, journey, patient(age=70))
        younger = await start_run(event_store(pool), journey_id, journey, patient(age=40))
        older_stream, younger_stream = await finished(pool, older), await finished(pool, younger)

    assert _messages(older_stream) == ["leaflet"]
    assert _messages(younger_stream) == ["tips"]


async def test_age_65_is_not_over_65_but_is_at_least_65(settings: Settings, pool: asyncpg.Pool) -> None:
    over_id, over = await save_journey(
        pool, "c", branch("c", "age", ">", 65, "yes", "no"), message("yes"), message("no")
    )
    least_id, least = await save_journey(
        pool, "c", branch("c", "age", ">=", 65, "yes", "no"), message("yes"), message("no")
    )
    async with in_process(settings, *ROLES):
        over_run = await start_run(event_store(pool), over_id, over, patient(age=65))
        least_run = await start_run(event_store(pool), least_id, least, patient(age=65))
        assert _messages(await finished(pool, over_run)) == ["no"]
        assert _messages(await finished(pool, least_run)) == ["yes"]


async def test_a_two_second_delay_resumes_never_early_and_not_seconds_late(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    journey_id, journey = await save_journey(
        pool, "hello", message("hello", "wait"), delay("wait", 2, "after"), message("after")
    )
    async with in_process(settings, *ROLES):
        run_id = await start_run(event_store(pool), journey_id, journey, patient())
        stream = await finished(pool, run_id)

    started = next(e for e in stream if isinstance(e.event, DelayStarted))
    completed = next(e for e in stream if isinstance(e.event, RunCompleted))
    waited = completed.recorded_at - started.recorded_at
    # The bound above is generous for a loaded 2-core machine; how late delays fire is measured in bench/.
    assert timedelta(seconds=2) <= waited <= timedelta(seconds=4), waited
    assert types(stream)[-3:] == ["DelayElapsed", "MessageRequested", "RunCompleted"]


async def test_a_journey_may_start_with_a_delay(settings: Settings, pool: asyncpg.Pool) -> None:
    journey_id, journey = await save_journey(pool, "wait", delay("wait", 0.2, "hello"), message("hello"))
    async with in_process(settings, *ROLES):
        stream = await finished(pool, await start_run(event_store(pool), journey_id, journey, patient()))

    assert types(stream) == ["RunStarted", "DelayStarted", "DelayElapsed", "MessageRequested", "RunCompleted"]


async def test_a_zero_second_delay_passes_straight_through(settings: Settings, pool: asyncpg.Pool) -> None:
    journey_id, journey = await save_journey(pool, "now", delay("now", 0, "hello"), message("hello"))
    async with in_process(settings, *ROLES):
        stream = await finished(pool, await start_run(event_store(pool), journey_id, journey, patient()))

    assert types(stream)[-3:] == ["DelayElapsed", "MessageRequested", "RunCompleted"]


async def test_fifty_concurrent_runs_each_take_their_own_branch(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    journey_id, journey = await save_journey(
        pool,
        "hello",
        message("hello", "wait"),
        delay("wait", 0.1, "age"),
        branch("age", "age", ">=", 50, "older", "younger"),
        message("older"),
        message("younger"),
    )
    ages = list(range(25, 75))
    async with in_process(settings, *ROLES):
        store = event_store(pool)
        run_ids = await asyncio.gather(*(start_run(store, journey_id, journey, patient(age)) for age in ages))
        streams = [await finished(pool, run_id, 30) for run_id in run_ids]

    for age, stream in zip(ages, streams, strict=True):
        [evaluated] = [e.event for e in stream if isinstance(e.event, ConditionEvaluated)]
        assert evaluated.result is (age >= 50)
        assert _messages(stream) == ["hello", "older" if age >= 50 else "younger"]


async def test_cancel_during_a_delay_never_fires_the_timer(settings: Settings, pool: asyncpg.Pool) -> None:
    journey_id, journey = await save_journey(pool, "wait", delay("wait", 2, "hello"), message("hello"))
    store = event_store(pool)
    async with in_process(settings, *ROLES):
        run_id = await start_run(store, journey_id, journey, patient())
        await eventually(lambda: _waiting(pool, run_id))
        await cancel(store, run_id)
        # A run started after the cancel is due later: once its delay fired, the cancelled one's was due too.
        later = await start_run(store, journey_id, journey, patient())
        await finished(pool, later)

    assert types(await store.read_stream(run_id)) == ["RunStarted", "DelayStarted", "RunCancelled"]
    assert await fired_counts(pool) == {later: 1}


async def test_a_missing_journey_version_fails_the_run(
    settings: Settings, pool: asyncpg.Pool, migration_pool: asyncpg.Pool
) -> None:
    journey_id, journey = await save_journey(pool, "hello", message("hello"))
    await migration_pool.execute("ALTER TABLE journeys DISABLE TRIGGER USER")
    await migration_pool.execute("DELETE FROM journeys")
    async with in_process(settings, *ROLES):
        stream = await finished(pool, await start_run(event_store(pool), journey_id, journey, patient()))

    assert types(stream) == ["RunStarted", "RunFailed"]
    assert "not available" in str(getattr(stream[-1].event, "reason", ""))


async def test_a_step_past_the_events_cap_fails_the_run_before_any_message(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    capped = settings.model_copy(update={"run_max_events_per_decision": 3})
    journey_id, journey = await save_journey(pool, "a", message("a", "b"), message("b", "c"), message("c"))
    async with in_process(capped, *ROLES):
        stream = await finished(pool, await start_run(event_store(pool), journey_id, journey, patient()))

    assert types(stream) == ["RunStarted", "RunFailed"]
    assert "more than 3 events" in str(getattr(stream[-1].event, "reason", ""))


async def test_a_loop_through_a_short_delay_fails_at_the_visit_cap(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    capped = settings.model_copy(update={"run_max_visits_per_node": 2})
    journey_id, journey = await save_journey(
        pool, "remind", message("remind", "wait"), delay("wait", 0.1, "remind"), min_loop_delay_seconds=0
    )
    async with in_process(capped, *ROLES):
        run_id = await start_run(event_store(pool), journey_id, journey, patient())
        state = await eventually(lambda: _finished(pool, run_id))

    assert state.status is RunStatus.FAILED and state.current_node_id == "remind"
    assert state.reason is not None and "max_visits_per_node" in state.reason
    assert _messages(await event_store(pool).read_stream(run_id)) == ["remind", "remind"]


async def _finished(pool: asyncpg.Pool, run_id: UUID) -> RunState | None:
    state = await load_head(PostgresRunHeads(pool), run_id)
    return state if state.finished else None


async def _waiting(pool: asyncpg.Pool, run_id: UUID) -> bool:
    return (await load_head(PostgresRunHeads(pool), run_id)).resume_at is not None


def _messages(stream: list[RecordedEvent]) -> list[str]:
    return [getattr(e.event, "node_id", "") for e in stream if e.event.type == "MessageRequested"]


async def test_a_run_whose_patient_was_erased_before_the_engine_decided_fails_without_a_message(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    journey_id, journey = await save_journey(pool, "hello", message("hello"))
    vault = patient_vault(pool, settings)
    sealed = await vault.seal_context(patient(patient_id="erin"))
    run_id = await start_run(event_store(pool), journey_id, journey, sealed)
    erased_at = datetime.now(UTC)
    await PostgresPatientKeys(pool, key_ring(settings)).destroy(
        vault.patient(DEFAULT_TENANT_ID, "erin"), erased_at
    )

    async with in_process(settings, *ROLES):
        stream = await finished(pool, run_id)

    assert types(stream) == ["RunStarted", "RunFailed"]
    failed = stream[-1].event
    assert isinstance(failed, RunFailed) and failed.reason == PATIENT_DATA_UNAVAILABLE
