"""The engine on Postgres in the hard cases: another writer advancing a run between the engine's read and
its append, and a decision too large to publish."""

from __future__ import annotations

import asyncpg

from engine.engine_worker import EngineWorker
from engine.journey_repository import PostgresJourneyRepository
from engine.ports import RunHeads
from engine.run_status import PostgresRunHeads
from engine.timer import TimerConfig
from events.catalogue import RunFailed
from pjs import wiring
from pjs.settings import Settings
from pjs.wiring import event_store, patient_vault
from support.journeys import delay, message, patient, save_journey, start_run, types
from support.messaging import save, trigger
from support.races import DeliveryRacingTheEngine


def engine_on(heads: RunHeads, pool: asyncpg.Pool, settings: Settings) -> EngineWorker:
    store = event_store(pool, settings)
    journeys = PostgresJourneyRepository(pool)
    return EngineWorker(heads, store, journeys, contexts=patient_vault(pool, settings))


async def test_a_run_advanced_by_a_delivery_meanwhile_is_decided_again_on_its_new_head(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    journey_id, journey = await save_journey(
        pool, "hello", message("hello", "wait"), delay("wait", 0, "after"), message("after")
    )
    store = event_store(pool, settings)
    run_id = await start_run(store, journey_id, journey, patient())
    await engine_on(PostgresRunHeads(pool), pool, settings).handle(await store.read_stream(run_id))
    assert await wiring.timer(pool, TimerConfig(), settings).fire_due() == 1
    racing = DeliveryRacingTheEngine(PostgresRunHeads(pool), store, "hello")

    await engine_on(racing, pool, settings).handle(await store.read_stream(run_id))

    assert racing.raced
    assert types(await store.read_stream(run_id)) == [
        "RunStarted",
        "MessageRequested",
        "DelayStarted",
        "DelayElapsed",
        "MessageDelivered",
        "MessageRequested",
        "RunCompleted",
    ]


async def test_a_decision_too_large_to_publish_fails_its_run_and_the_rest_of_the_batch_goes_on(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    settings = settings.model_copy(update={"max_event_bytes": 20_000})
    journey_id = await save(pool, {"name": "Notes", "start_node_id": "m", "nodes": [NOTE_MESSAGE]})
    long_note, short_note = "n" * 9_000, "hello"
    runs = [
        await trigger(pool, settings, journey_id, {**patient(patient_id=f"p-{n}"), "note": note})
        for n, note in enumerate((long_note, short_note))
    ]
    store = event_store(pool, settings)
    started = [event for run_id in runs for event in await store.read_stream(run_id)]

    await wiring.engine_worker(pool, settings).handle(started)

    too_large, fine = [await store.read_stream(run_id) for run_id in runs]
    assert types(too_large) == ["RunStarted", "RunFailed"]
    failed = too_large[-1].event
    assert isinstance(failed, RunFailed) and "PJS_MAX_EVENT_BYTES" in failed.reason
    assert "nnnn" not in failed.reason
    assert types(fine) == ["RunStarted", "MessageRequested", "RunCompleted"]


NOTE_MESSAGE = {
    "id": "m",
    "type": "MESSAGE",
    "message": "{{ patient.note ~ patient.note ~ patient.note }}",
    "next_node_id": None,
}
