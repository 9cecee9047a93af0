"""The run heads the engine decides from: Postgres's `run_status` rows must hold exactly the state that
folding the run's events gives, which is what the unit tests' fake returns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import pytest

from domain.run_state import fold
from engine.run_status import PostgresRunHeads
from events.catalogue import DelayElapsed, RunCancelled, RunCompleted, RunEvent
from pjs.settings import Settings
from pjs.wiring import event_store
from support.runs import T0, delay, envelopes, message, run_started

STREAMS: dict[str, list[list[RunEvent]]] = {
    "started": [[run_started()]],
    "messaged and waiting": [[run_started()], [message("welcome"), delay("wait", 60, T0)]],
    "woken": [
        [run_started()],
        [message("welcome"), delay("wait", 60, T0)],
        [DelayElapsed(node_id="wait", resume_at=T0, fired_at=T0)],
    ],
    "completed": [[run_started()], [message("welcome"), RunCompleted(last_node_id="welcome")]],
    "cancelled while waiting": [
        [run_started()],
        [delay("wait", 60, T0)],
        [RunCancelled(node_id="wait", reason="x")],
    ],
}


@pytest.mark.parametrize("appends", STREAMS.values(), ids=STREAMS.keys())
async def test_a_runs_head_in_postgres_is_the_state_its_events_fold_to(
    settings: Settings, pool: asyncpg.Pool, appends: Sequence[list[RunEvent]]
) -> None:
    store, run_id, version = event_store(pool, settings), uuid.uuid4(), 0
    for events in appends:
        written = await store.append(run_id, version, envelopes(run_id, version, events))
        assert isinstance(written, list)
        version += len(events)

    heads = await PostgresRunHeads(pool).load([run_id, uuid.uuid4()])

    assert heads == {run_id: fold(run_id, await store.read_stream(run_id))}
