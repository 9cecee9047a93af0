"""Templates on the real stack: one that could stall the shared engine is refused at save, and one stored
before templates were bounded fails only its own message while every other run goes on."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import httpx

from domain.journey import JourneyDefinition, MessageNode
from domain.run_state import FINISHED_STATUSES
from engine.journey_repository import PostgresJourneyRepository
from engine.ports import load_head
from engine.run_status import PostgresRunHeads
from events.catalogue import MessageFailed, RecordedEvent
from pjs.settings import Settings
from pjs.wiring import event_store
from support.journeys import types
from support.messaging import of_type, save, trigger
from support.roles import eventually, in_process

UNBOUNDED = '{{ "x" * 1000000000 }}'


async def test_a_template_that_would_build_a_gigabyte_is_refused_at_save_with_what_and_where(
    api: httpx.AsyncClient,
) -> None:
    journey = {
        "name": "Too big",
        "start_node_id": "a",
        "nodes": [{"id": "a", "type": "MESSAGE", "message": UNBOUNDED, "next_node_id": None}],
    }

    response = await api.post("/journeys", json=journey)

    assert response.status_code == 400
    [problem] = response.json()["problems"]
    assert problem["path"] == "nodes[0].message"
    assert "operator *" in problem["message"] and "line 1" in problem["message"]


async def test_a_stored_unbounded_template_fails_its_message_and_every_run_still_completes(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    legacy = JourneyDefinition(
        name="Saved before templates were bounded",
        start_node_id="bad",
        nodes=(MessageNode("bad", UNBOUNDED, "after"), MessageNode("after", "See you soon")),
    )
    legacy_id = (
        await PostgresJourneyRepository(pool).create(uuid4(), legacy, now=datetime.now(UTC))
    ).journey_id
    ordinary = {
        "name": "Hello",
        "start_node_id": "hi",
        "nodes": [{"id": "hi", "type": "MESSAGE", "message": "Hi"}],
    }
    ordinary_id = await save(pool, ordinary)
    patient = {"id": "p-1", "age": 70, "language": "en"}

    async with in_process(settings, "relay", "engine", "delivery"):
        legacy_run = await trigger(pool, settings, legacy_id, patient)
        ordinary_run = await trigger(pool, settings, ordinary_id, patient)
        streams = [
            await delivered(pool, run_id, outcomes)
            for run_id, outcomes in ((legacy_run, 2), (ordinary_run, 1))
        ]

    [failed] = of_type(streams[0], "MessageFailed")
    assert isinstance(failed.event, MessageFailed) and failed.event.node_id == "bad"
    assert failed.event.reason.startswith("template_error: the operator *")
    assert "RunCompleted" in types(streams[0]) and "RunCompleted" in types(streams[1])
    assert len(of_type(streams[0], "MessageDelivered")) == 1  # "after" went out
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0


async def delivered(pool: asyncpg.Pool, run_id: UUID, outcomes: int) -> list[RecordedEvent]:
    """The run's events once it finished and delivery recorded `outcomes` message outcomes."""

    async def done() -> list[RecordedEvent] | None:
        stream = await event_store(pool).read_stream(run_id)
        recorded = of_type(stream, "MessageDelivered") + of_type(stream, "MessageFailed")
        return stream if len(recorded) == outcomes else None

    state_finished = await eventually(lambda: _finished(pool, run_id), seconds=60)
    assert state_finished
    return await eventually(done, seconds=60)


async def _finished(pool: asyncpg.Pool, run_id: UUID) -> bool | None:
    state = await load_head(PostgresRunHeads(pool), run_id)
    return True if state.status in FINISHED_STATUSES else None
