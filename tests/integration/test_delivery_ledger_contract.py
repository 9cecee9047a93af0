"""One behaviour suite for every DeliveryLedger: the Postgres ledger and the in-memory fake the unit tests use
must both pass it, so the fake cannot drift from what the delivery worker really gets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest

from engine.message_deliveries import DeliveryLedger, DeliveryOutcome, PostgresDeliveryLedger
from events.catalogue import MessageDelivered, RecordedEvent
from events.store import EventStore
from pjs.wiring import event_store
from support.fakes import FakeBackend
from support.journeys import types
from support.runs import delay, envelopes, message, run_started

LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class Deliveries:
    """A store whose appends keep the ledger's rows, and the ledger."""

    store: EventStore
    ledger: DeliveryLedger


@pytest.fixture(params=["postgres", "in_memory"])
def deliveries(request: pytest.FixtureRequest) -> Deliveries:
    if request.param == "in_memory":
        backend = FakeBackend()
        return Deliveries(backend.store, backend.ledger)
    pool: asyncpg.Pool = request.getfixturevalue("pool")
    store = event_store(pool, request.getfixturevalue("settings"))
    return Deliveries(store, PostgresDeliveryLedger(pool, store))


async def requested(deliveries: Deliveries) -> RecordedEvent:
    run_id = uuid.uuid4()
    written = await deliveries.store.append(
        run_id, 0, envelopes(run_id, 0, [run_started(), message("welcome")])
    )
    assert isinstance(written, list)
    return written[-1]


def delivered(request: RecordedEvent) -> DeliveryOutcome:
    return DeliveryOutcome(
        request, MessageDelivered(node_id="welcome", provider_message_id="sm-1", attempts=1)
    )


async def test_a_request_is_claimed_once_and_busy_for_a_second_claim_within_its_lease(
    deliveries: Deliveries,
) -> None:
    request = await requested(deliveries)

    first = await deliveries.ledger.claim([request], LEASE_SECONDS)
    second = await deliveries.ledger.claim([request], LEASE_SECONDS)

    assert (first.ours, first.busy_elsewhere) == ([request], 0)
    assert (second.ours, second.busy_elsewhere) == ([], 1)


async def test_an_outcome_recorded_twice_is_appended_once_and_its_request_never_claimed_again(
    deliveries: Deliveries,
) -> None:
    request = await requested(deliveries)
    await deliveries.ledger.claim([request], LEASE_SECONDS)

    for _ in range(2):
        await deliveries.ledger.record(
            [delivered(request)], {request.run_id: request.version}, datetime.now(UTC)
        )
    again = await deliveries.ledger.claim([request], LEASE_SECONDS)

    assert types(await deliveries.store.read_stream(request.run_id)) == [
        "RunStarted",
        "MessageRequested",
        "MessageDelivered",
    ]
    assert (again.ours, again.busy_elsewhere) == ([], 0)


async def test_an_outcome_lands_at_the_runs_new_head_when_the_run_moved_on_meanwhile(
    deliveries: Deliveries,
) -> None:
    request = await requested(deliveries)
    await deliveries.ledger.claim([request], LEASE_SECONDS)
    moved_on = envelopes(request.run_id, request.version, [delay()])
    assert isinstance(await deliveries.store.append(request.run_id, request.version, moved_on), list)

    await deliveries.ledger.record([delivered(request)], {request.run_id: request.version}, datetime.now(UTC))

    stream = await deliveries.store.read_stream(request.run_id)
    assert types(stream) == ["RunStarted", "MessageRequested", "DelayStarted", "MessageDelivered"]
    assert stream[-1].causation_id == request.event_id
