"""The delivery worker on in-memory fakes: each requested visit is sent once and its outcome recorded."""

from __future__ import annotations

import pytest
from worker_fixtures import backend_with_journey, started_run

from domain.decider import CANCELLED_BEFORE_SENDING
from domain.message_outcomes import NotSent
from engine.commands import cancel_run
from engine.delivery_worker import DeliveryConfig, DeliveryWorker
from events.catalogue import MessageDelivered, MessageFailed
from events.retry import RetryLater
from support.fakes import FakeBackend, RecordingChannel


def delivery(backend: FakeBackend, channel: RecordingChannel) -> DeliveryWorker:
    return DeliveryWorker(
        backend.heads, backend.ledger, channel, DeliveryConfig(), backend.clock, contexts=backend.vault
    )


async def test_a_requested_message_is_sent_once_and_recorded_as_delivered() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend)
    channel = RecordingChannel()

    await delivery(backend, channel).handle(await backend.stream(run_id))
    await delivery(backend, channel).handle(await backend.stream(run_id))  # Kafka redelivers the batch

    assert [(m.node_id, m.idempotency_key) for m in channel.sent] == [("welcome", f"{run_id}:welcome:2")]
    outcome = (await backend.stream(run_id))[-1]
    assert isinstance(outcome.event, MessageDelivered)
    assert outcome.causation_id == (await backend.stream(run_id))[1].event_id


async def test_a_cancelled_runs_queued_message_is_never_sent() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend)
    await cancel_run(backend.store, backend.heads, run_id=run_id, reason=None, now=backend.clock())
    channel = RecordingChannel()

    await delivery(backend, channel).handle(await backend.stream(run_id))

    assert channel.sent == []
    outcome = (await backend.stream(run_id))[-1].event
    assert isinstance(outcome, MessageFailed) and outcome.reason == CANCELLED_BEFORE_SENDING


async def test_a_provider_that_gives_up_is_recorded_as_failed_with_its_reason() -> None:
    backend = backend_with_journey()
    run_id = await started_run(backend)
    channel = RecordingChannel(outcomes={"welcome": NotSent(reason="http_422", attempts=1)})

    await delivery(backend, channel).handle(await backend.stream(run_id))

    outcome = (await backend.stream(run_id))[-1].event
    assert isinstance(outcome, MessageFailed) and outcome.reason == "http_422"


async def test_a_visit_another_worker_is_sending_is_left_to_it_and_the_batch_retried_later() -> None:
    backend = backend_with_journey()
    mine, theirs = await started_run(backend), await started_run(backend)
    theirs_request = (await backend.stream(theirs))[1]
    backend.ledger.held_elsewhere.add(theirs_request.event_id)
    channel = RecordingChannel()

    with pytest.raises(RetryLater):
        await delivery(backend, channel).handle([*await backend.stream(mine), *await backend.stream(theirs)])

    assert [m.run_id for m in channel.sent] == [mine]
    assert isinstance((await backend.stream(mine))[-1].event, MessageDelivered)
    assert (await backend.types(theirs))[-1] == "DelayStarted"
