"""A mixed workload of runs written straight to the store: completed, cancelled, failed and still waiting."""

from __future__ import annotations

import uuid
from datetime import timedelta
from uuid import UUID

from events.catalogue import (
    ConditionEvaluated,
    DelayElapsed,
    MessageDelivered,
    MessageFailed,
    RunCancelled,
    RunCompleted,
    RunEvent,
    RunFailed,
)
from events.store import PostgresEventStore
from support.runs import T0, delay, envelopes, message, run_started

ENDINGS = ("completed", "cancelled", "failed", "waiting")


async def write_run(store: PostgresEventStore, ending: str, patient_id: str) -> UUID:
    """A run through welcome -> age_check -> wait, then the given ending; one append per step, like live."""
    run_id = uuid.uuid4()
    wait = delay("wait", seconds=60)
    steps: list[list[RunEvent]] = [
        [run_started(patient_id)],
        [
            message("welcome"),
            ConditionEvaluated(
                node_id="age_check", field="age", operator=">", result=True, next_node_id="wait"
            ),
            wait,
        ],
        [
            MessageDelivered(node_id="welcome", provider_message_id="m-1", attempts=1)
            if ending != "failed"
            else MessageFailed(node_id="welcome", reason="provider down", attempts=5)
        ],
    ]
    if ending == "completed":
        steps.append(
            [
                DelayElapsed(node_id="wait", resume_at=wait.resume_at, fired_at=T0 + timedelta(seconds=61)),
                message("reminder"),
                RunCompleted(last_node_id="reminder"),
            ]
        )
    elif ending == "cancelled":
        steps.append([RunCancelled(node_id="wait", reason="patient asked")])
    elif ending == "failed":
        steps.append(
            [
                DelayElapsed(node_id="wait", resume_at=wait.resume_at, fired_at=T0 + timedelta(seconds=61)),
                RunFailed(node_id="missing", reason="node missing"),
            ]
        )
    version = 0
    for events in steps:
        written = await store.append(run_id, version, envelopes(run_id, version, events))
        assert isinstance(written, list)
        version += len(events)
    return run_id


async def write_mixed_workload(store: PostgresEventStore, runs: int) -> dict[str, list[UUID]]:
    by_ending: dict[str, list[UUID]] = {ending: [] for ending in ENDINGS}
    for index in range(runs):
        ending = ENDINGS[index % len(ENDINGS)]
        by_ending[ending].append(await write_run(store, ending, patient_id=f"p-{index % 7}"))
    return by_ending
